import pytest

from trackreid.analytics import Line, Zone, build_regions, load_regions, parse_line, parse_zone


def test_parse_line_and_zone():
    ln = parse_line("10,20,300,20.5:door")
    assert (ln.name, ln.x1, ln.y1, ln.x2, ln.y2) == ("door", 10, 20, 300, 20.5)
    assert parse_line("0,0,5,5", default_name="line3").name == "line3"
    z = parse_zone("0,0,10,0,10,10,0,10:queue")
    assert z.name == "queue" and z.points.shape == (4, 2)


@pytest.mark.parametrize("spec, match", [
    ("1,2,3", "4 numbers"), ("a,b,c,d", "numbers separated by commas"), ("5,5,5,5", "same"),
    ("1,2,3,4:bad name", "name"), ("", "expected numbers"), ("1,2,3,inf", "finite"),
])
def test_bad_lines(spec, match):
    with pytest.raises(ValueError, match=match):
        parse_line(spec)


@pytest.mark.parametrize("spec, match", [
    ("0,0,10,0", "at least 6"), ("0,0,10,0,10,10,3", "even number"), ("0,0,5,5,10,10", "no area"),
])
def test_bad_zones(spec, match):
    with pytest.raises(ValueError, match=match):
        parse_zone(spec)


def test_yaml_same_content_as_command_line(tmp_path):
    cfg = tmp_path / "events.yaml"
    cfg.write_text("lines:\n  - {name: door, points: [[10, 20], [300, 20]]}\n  - '0,0,5,5:side'\n"
                   "zones:\n  - {name: queue, points: [[0, 0], [10, 0], [10, 10], [0, 10]]}\n")
    lines, zones = load_regions(cfg)
    assert lines == [parse_line("10,20,300,20:door"), parse_line("0,0,5,5:side")]
    assert zones == [parse_zone("0,0,10,0,10,10,0,10:queue")]
    lines2, zones2 = build_regions(["1,1,9,9"], [], config=cfg)
    assert [ln.name for ln in lines2] == ["door", "side", "line3"] and len(zones2) == 1


@pytest.mark.parametrize("text, match", [
    ("lines: [{points: [[1, 2]]}]", "exactly 2 points"), ("cameras: []", "'lines' and/or 'zones'"),
    ("lines: [{points: [[1, 2], [3]]}]", "pairs"), ("lines: [: bad", "not valid YAML"),
    ("zones: [{name: a, points: [[0,0],[1,0],[1,1]]}, {name: a, points: [[0,0],[2,0],[2,2]]}]", "named 'a'"),
])
def test_bad_yaml(tmp_path, text, match):
    cfg = tmp_path / "e.yaml"
    cfg.write_text(text)
    with pytest.raises(ValueError, match=match):
        load_regions(cfg)


def test_missing_yaml(tmp_path):
    with pytest.raises(ValueError, match="does not exist"):
        load_regions(tmp_path / "nope.yaml")


def test_objects_pass_through():
    ln, z = Line("a", 0, 0, 1, 1), Zone("b", ((0, 0), (1, 0), (0, 1)))
    assert build_regions([ln], [z]) == ([ln], [z])
