import json

import pytest

from tracker import gazetteer
from tracker.errors import ConfigError


def test_shipped_gazetteer_is_valid_and_large_enough():
    entries = gazetteer.load_entities()
    types = [e["type"] for e in entries]
    assert types.count("LENDER") >= 20
    assert types.count("REGULATOR") + types.count("GOVERNMENT") >= 10
    ids = {e["id"] for e in entries}
    assert {"ant-group", "webank", "meituan", "bytedance", "pboc", "nfra", "cbirc"} <= ids
    for entry in entries:
        for predecessor in entry.get("successor_of") or []:
            assert predecessor in ids, f"{entry['id']} succeeds unknown {predecessor}"


def test_no_surface_form_points_at_two_entities():
    seen = {}
    for p in gazetteer.patterns(gazetteer.load_entities()):
        key = (p.text if p.exact else p.text.lower(), p.language)
        assert seen.setdefault(key, p.id) == p.id, f"{p.text!r} names {seen[key]} and {p.id}"


@pytest.mark.parametrize(
    "line, message",
    [
        ('{"id": "x", "type": "BANK", "name": "X"}', "type must be one of"),
        ('{"id": "x", "type": "LENDER"}', "no 'name'"),
        ("{not json", "not valid JSON"),
    ],
)
def test_bad_entries_are_named_by_line(tmp_path, line, message):
    path = tmp_path / "g.jsonl"
    path.write_text(json.dumps({"id": "ok", "type": "LENDER", "name": "OK"}) + "\n" + line + "\n")
    with pytest.raises(ConfigError, match=rf"g.jsonl:2: .*{message}"):
        gazetteer.load_entities(path)


def test_duplicate_ids_are_rejected(tmp_path):
    path = tmp_path / "g.jsonl"
    row = json.dumps({"id": "same", "type": "LENDER", "name": "Same"})
    path.write_text(row + "\n" + row + "\n")
    with pytest.raises(ConfigError, match="duplicate id"):
        gazetteer.load_entities(path)
