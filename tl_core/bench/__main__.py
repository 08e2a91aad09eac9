"""Child processes of the benchmark: python -m tl_core.bench {memory,threads} '<json request>'.

The benchmark starts them itself, so that a measurement begins in a fresh
process. Run the benchmark with `python -m tl_core bench`.
"""

import json
import logging
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from tl_core.bench.measure import memory_child, threads_child  # noqa: E402

CHILDREN = {"memory": memory_child, "threads": threads_child}


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[0] not in CHILDREN:
        print("usage: python -m tl_core.bench {memory,threads} '<json request>'; run the benchmark with "
              "`python -m tl_core bench`", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.WARNING)
    print(json.dumps(CHILDREN[argv[0]](json.loads(argv[1]))))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
