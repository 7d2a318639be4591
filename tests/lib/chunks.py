"""Parse `weft read -c` output: a header line per chunk, then its bytes."""
import re

HDR = re.compile(rb"-- (?:\S+ )?conn (\d+) (c2s|s2c) (?:offset (\d+), (\d+) bytes|gap at offset (\d+), (\d+) bytes) --\n")

def parse(blob):
    """Yield (conn_id, dir, offset, data_or_None, length) in delivery order."""
    i = 0
    while i < len(blob):
        m = HDR.match(blob, i)
        if not m:
            raise ValueError("bad chunk header at byte %d" % i)
        i = m.end()
        cid, d = int(m.group(1)), m.group(2).decode()
        if m.group(3) is not None:
            n = int(m.group(4))
            yield cid, d, int(m.group(3)), blob[i:i + n], n
            i += n + 1  # the newline after the bytes
        else:
            yield cid, d, int(m.group(5)), None, int(m.group(6))
