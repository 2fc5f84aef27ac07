"""``python -m decensor.train RECIPE [--key value ...]``: the entry point for ``accelerate launch``.

The same command as ``decensor train`` (one parser, one error path), e.g.::

    accelerate launch --config_file ds_configs/accelerate/zero3-1node-8gpu.yaml -m decensor.train \\
        recipes/qwen2.5-7b-instruct/sft-qlora.yaml --max_steps 100
"""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    from decensor.cli import main as cli_main

    return cli_main(["train", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    sys.exit(main())
