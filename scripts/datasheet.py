"""Write corpus/stance/DATASHEET.md from the labelled files: `python -m scripts.datasheet`."""

from tracker.corpus import datasheet, stance_files
from tracker.settings import STANCE_DATA_DIR

PATH = STANCE_DATA_DIR / "DATASHEET.md"


def render() -> str:
    return datasheet({"English": stance_files("en"), "Chinese": stance_files("zh")})


if __name__ == "__main__":
    PATH.write_text(render(), encoding="utf-8")
    print(f"wrote {PATH}")
