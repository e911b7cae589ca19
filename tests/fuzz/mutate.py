"""Mutations of spec files: random bytes, and the hostile constructs of issue 19."""
from __future__ import annotations

import random

# Constructs that crashed the reader before: each must end in a SpecError.
HOSTILE = [
    b"\x00", b"\x07", b"\x1b", b"\x7f", b"\x85", b"\xc2\x9f", b"\xff", b"\xff\xfe", b"\xc3", b"\xed\xa0\x80",
    b"\xef\xbf\xbe", b"\xef\xbb\xbf", b"\r", b"\t", b"\\0", b'"\\0"', b'"\\x01"', b'"\\ud800"',
    b"[" * 300, b"{" * 300, b"- " * 300, b"[" * 40 + b"]" * 40,
    b"9" * 5000, b"-" + b"9" * 30, b"9" * 19, b"0x" + b"f" * 40, b"0b" + b"1" * 90, b"1_000_000_000_000_000_000_000",
    b"190:20:30", b"-1", b"0", b"-0.0", b"1e999", b"-1e999", b".nan", b".inf", b"-.inf", b"1e-999",
    b"'-16 words/cycle'", b"'0 words/cycle'", b"'1e999 words/cycle'", b"'1e5e5 words/cycle'",
    b"-64KiB", b"0KiB", b"1e999KiB", b"1e300KiB", b"0GHz", b"-1GHz", b"1e999GHz", b"0V", b"1e999pJ",
    b"&a", b"*a", b"*undefined", b"&a [*a]", b"<<: *a", b"<<: 5", b"<<: [1, 2]",
    b"? [a, b]\n: 1", b"? {a: 1}\n: 1", b"[a, b]: 1", b"{a: 1}: 2", b"? !!set {a, b}\n: 1",
    b"!!python/object/apply:os.system ['true']", b"!!binary AAAA", b"!!binary '@@@'", b"!foo bar",
    b"!!timestamp 2024-13-45", b"2024-13-45", b"2001-12-14t21:59:43.10-05:00", b"!!set {a, b}",
    b"!!omap [a: 1]", b"!!pairs [a: 1]", b"!!int abc", b"!!float abc", b"!!bool maybe", b"!!null x",
    b"~", b"[]", b"{}", b"''", b"null", b"true", b"yes", b"%YAML 1.1\n---\n", b"%TAG ! tag:x,2000:\n---\n",
    b"--- \n", b"...\n", b"---\n---\n", b"'", b'"', b"|", b">", b"- ", b": ", b"? ", b"#", b"@", b"`",
    b"extends: /dev/zero", b"extends: /dev/stdin", b"extends: /proc/self/mem", b"extends: ../../../../etc/passwd",
    b"extends: fifo", b"extends: loop.yaml", b"extends: folder", b"extends: link_out.yaml",
    b"extends: missing.yaml", b"extends: .", b"extends: ''", b"extends: [a]", b"extends: {a: 1}", b"extends: 5",
    b'extends: "a\\0b"', b"extends: " + b"a" * 5000, b"extends: " + b"../" * 2000,
    b"set: {levels.GLB.size: 1}", b"set: {'': 1}", b"set: {5: 1}", b"set: [1]", b"set: {a.b.c: 1}",
    b"set: {levels.99.memory.size: 1KiB}", b"set: {levels.-1: 1}",
]

LAUGHS = (b"l0: &l0 [x, x, x, x, x, x, x, x, x, x]\n"
          + b"".join(b"l%d: &l%d [%s]\n" % (i, i, b", ".join([b"*l%d" % (i - 1)] * 10)) for i in range(1, 9)))


def _line_starts(data: bytes) -> list[int]:
    return [0] + [i + 1 for i, b in enumerate(data) if b == 10]


def mutate(data: bytes, rng: random.Random, rounds: int | None = None) -> bytes:
    """`data` with 1-4 random mutations: bytes flipped, inserted, deleted, lines moved, hostile
    constructs inserted, values replaced."""
    for _ in range(rounds or rng.randint(1, 4)):
        if not data:
            data = b"x: 1\n"
        op = rng.randrange(10)
        pos = rng.randrange(len(data) + 1)
        if op == 0:      # flip a byte
            if pos < len(data):
                data = data[:pos] + bytes([rng.randrange(256)]) + data[pos + 1:]
        elif op == 1:    # insert random bytes
            data = data[:pos] + bytes(rng.randrange(256) for _ in range(rng.randint(1, 8))) + data[pos:]
        elif op == 2:    # delete a range
            data = data[:pos] + data[pos + rng.randint(1, 40):]
        elif op == 3:    # duplicate or move a line
            lines = data.splitlines(keepends=True)
            if lines:
                line = lines[rng.randrange(len(lines))]
                if rng.random() < 0.5:
                    lines.remove(line)
                lines.insert(rng.randrange(len(lines) + 1), line)
                data = b"".join(lines)
        elif op in (4, 5):  # a hostile construct anywhere
            data = data[:pos] + rng.choice(HOSTILE) + data[pos:]
        elif op in (6, 7):  # a value after "key: " replaced by a hostile one
            lines = data.splitlines(keepends=True)
            if lines:
                i = rng.randrange(len(lines))
                head, sep, _ = lines[i].partition(b": ")
                if sep:
                    lines[i] = head + sep + rng.choice(HOSTILE) + b"\n"
                data = b"".join(lines)
        elif op == 8:    # a hostile line at the top level
            starts = _line_starts(data)
            at = rng.choice(starts)
            data = data[:at] + rng.choice(HOSTILE) + b"\n" + data[at:]
        else:            # aliases: an anchor and its use, or a billion laughs
            if rng.random() < 0.3:
                data = data + b"\n" + LAUGHS + rng.choice([b"description: *l8\n", b"set: {description: *l8}\n",
                                                          b"name: *l8\n", b"zz: *l8\n"])
            else:
                starts = _line_starts(data)
                a, b = rng.choice(starts), rng.choice(starts)
                line_a = data[a:data.find(b"\n", a) if b"\n" in data[a:] else len(data)]
                head, sep, _ = line_a.partition(b": ")
                if sep:
                    data = data[:a] + head + sep + b"&a " + data[a + len(head) + 2:]
                    data = data[:b] + data[b:].replace(b": ", b": *a #", 1) if b < len(data) else data
    return data


VALUES = [0, -1, 1, 2**62, 2**63 - 1, -(2**63), 1.5, -0.0, float("inf"), float("nan"), 1e308, True, None, "",
          "x" * 300, "unlimited", "0 words/cycle", "-3 words/cycle", "1e400 bits/cycle", "0KiB", "-1b", "1e30GiB",
          "0Hz", "-1GHz", "1e400GHz", "0V", "1e400V", "nanpJ", "seq*0", "1+" * 300 + "1", "(" * 300 + "1" + ")" * 300,
          "9" * 4000, "a//0", "heads*heads*heads*heads*heads*heads*heads*heads*heads*heads*heads",
          [], {}, [[[[]]]], {"a": {"b": {"c": 1}}}, ["weights", "weights"], {"name": "x"}, {"memory": None},
          "../../../etc/passwd", "/dev/zero", "fifo", "loop.yaml", "folder", "search", "arch"]


def mutate_tree(text: str, rng: random.Random) -> str | None:
    """The spec loaded, 1-3 values deep inside replaced by hostile ones, dumped again."""
    import yaml
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError:
        return None
    for _ in range(rng.randint(1, 3)):
        node, path = data, []
        while isinstance(node, (dict, list)) and node and rng.random() < 0.85:
            key = rng.choice(list(node)) if isinstance(node, dict) else rng.randrange(len(node))
            path.append((node, key))
            node = node[key]
        if not path:
            continue
        parent, key = path[-1]
        choice = rng.random()
        if choice < 0.7:
            parent[key] = rng.choice(VALUES)
        elif choice < 0.85 and isinstance(parent, dict):
            parent[rng.choice(["extends", "set", "name", "size", "x", "bogus", "read_bandwidth"])] = rng.choice(VALUES)
        elif isinstance(parent, dict):
            del parent[key]
        else:
            parent.append(rng.choice(parent))
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)


MAX_RSS_BYTES = 1 << 30  # the bound: no process above 1 GiB


def assert_memory_bounded(label: str) -> None:
    """The process's peak resident memory so far stays under 1 GiB (the whole default tier peaks at
    about 0.4 GiB, so a case that expanded a bomb or read a device would show)."""
    import resource
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # kilobytes on Linux
    assert peak < MAX_RSS_BYTES, f"{label}: peak memory {peak / 2**20:.0f} MiB"
