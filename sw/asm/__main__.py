"""``python -m tatami.asm``: assemble to ELF or a flat image, or disassemble an ELF."""

from __future__ import annotations

import argparse
import sys

from . import AsmError, ElfError, assemble_file, disassemble_elf


def _int(text: str) -> int:
    return int(text, 0)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tatami.asm", description=__doc__)
    parser.add_argument("source", help="assembly file (or an ELF file with --disassemble)")
    parser.add_argument("-o", "--output", help="output file (default: SOURCE with .elf or .bin)")
    parser.add_argument("--bin", action="store_true", help="write a flat binary image instead of ELF")
    parser.add_argument("--base", type=_int, default=0, help="address of the first section (default 0)")
    parser.add_argument(
        "--section-start",
        action="append",
        default=[],
        metavar="NAME=ADDR",
        help="place a section at an address, e.g. .data=0x10000",
    )
    parser.add_argument("-I", dest="include", action="append", default=[], help="directory for .include")
    parser.add_argument("-d", "--disassemble", action="store_true", help="disassemble an ELF file")
    args = parser.parse_args(argv)
    try:
        if args.disassemble:
            print("\n".join(disassemble_elf(args.source)))
            return 0
        sections = {}
        for item in args.section_start:
            name, _, addr = item.partition("=")
            sections[name] = int(addr, 0)
        prog = assemble_file(args.source, base=args.base, sections=sections, include_dirs=args.include)
    except (AsmError, ElfError, OSError) as e:
        print(e, file=sys.stderr)
        return 1
    stem = args.source.rsplit(".", 1)[0]
    if args.bin:
        out = args.output or stem + ".bin"
        base = prog.write_bin(out)
        print(f"{out}: flat image at {base:#x}", file=sys.stderr)
    else:
        prog.write_elf(args.output or stem + ".elf")
    return 0


if __name__ == "__main__":
    sys.exit(main())
