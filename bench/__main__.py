"""Benchmarks; figures are printed, never asserted in tests.

python -m bench           # = make bench: the API under wrk beside a floor (bench/speed.py)
python -m bench abuse     # a normal query beside abusive ones (bench/abuse.py)
"""

from __future__ import annotations

import sys


def main() -> None:
    if sys.argv[1:2] == ["abuse"]:
        from bench import abuse

        abuse.main(sys.argv[2:])
    else:
        from bench import speed

        speed.main(sys.argv[2:] if sys.argv[1:2] == ["speed"] else sys.argv[1:])


if __name__ == "__main__":
    main()
