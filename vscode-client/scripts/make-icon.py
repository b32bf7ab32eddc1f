"""Draws resources/icon.png (the marketplace icon): code lines with a coverage gutter. Run once; the PNG is committed."""
import struct
import zlib
from pathlib import Path

W = H = 128
BG, LINE = (0x1E, 0x24, 0x2C), (0x8B, 0x94, 0x9E)
GREEN, RED, YELLOW = (0x2E, 0xA0, 0x43), (0xF8, 0x51, 0x49), (0xD2, 0x99, 0x22)
rows = [(GREEN, 70), (GREEN, 52), (RED, 80), (GREEN, 60), (YELLOW, 44), (GREEN, 74)]


def pixel(x, y):
    r = 22  # rounded corners
    for cx, cy in ((r, r), (W - r - 1, r), (r, H - r - 1), (W - r - 1, H - r - 1)):
        if (x < r or x > W - r - 1) and (y < r or y > H - r - 1) and (x - cx) ** 2 + (y - cy) ** 2 > r * r:
            if abs(x - cx) <= r + 1 and abs(y - cy) <= r + 1:
                return (0, 0, 0, 0)
    for i, (colour, length) in enumerate(rows):
        top = 18 + i * 16
        if top <= y < top + 12:
            if 16 <= x < 26:
                return (*colour, 255)
            if 36 <= x < 36 + length:
                return (*LINE, 255)
    return (*BG, 255)


raw = b"".join(b"\0" + b"".join(bytes(pixel(x, y)) for x in range(W)) for y in range(H))


def chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", W, H, 8, 6, 0, 0, 0))
png += chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")
Path(__file__).resolve().parent.parent.joinpath("resources", "icon.png").write_bytes(png)
