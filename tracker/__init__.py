"""tracker: policy signals from news and regulatory text."""
__version__ = "0.1.0"
