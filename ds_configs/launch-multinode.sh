#!/usr/bin/env bash
# Multi-node DeepSpeed ZeRO-3 training: run this same line on every node, from the repository root.
#
#   NUM_MACHINES=4 NODE_RANK=<0..3> MASTER_ADDR=<node 0 address> MASTER_PORT=29500 \
#       ds_configs/launch-multinode.sh recipes/deepseek-v3/sft-lora.yaml [--key value ...]
#
# Under SLURM (one task per node):
#   export NUM_MACHINES=$SLURM_NNODES NODE_RANK=$SLURM_NODEID MASTER_PORT=29500
#   export MASTER_ADDR=$(scontrol show hostnames "$SLURM_JOB_NODELIST" | head -n 1)
#   srun --ntasks-per-node=1 ds_configs/launch-multinode.sh recipes/deepseek-v3/sft-lora.yaml
#
# GPUS_PER_NODE (default 8) processes start on each node. output_dir must be on a filesystem every node
# mounts: the run refuses to start otherwise (decensor/train/launch.py), since resuming reads the
# checkpoints the main process wrote there.
set -euo pipefail
: "${NUM_MACHINES:?set NUM_MACHINES to the number of nodes}"
: "${NODE_RANK:?set NODE_RANK to the rank of this node (0 on the node at MASTER_ADDR)}"
: "${MASTER_ADDR:?set MASTER_ADDR to the address of node 0}"
: "${MASTER_PORT:=29500}"
: "${GPUS_PER_NODE:=8}"
if [ "$#" -lt 1 ]; then
    echo "usage: ds_configs/launch-multinode.sh RECIPE [--key value ...]" >&2
    exit 2
fi
if [ "$NODE_RANK" -ge "$NUM_MACHINES" ]; then
    echo "NODE_RANK=$NODE_RANK must be below NUM_MACHINES=$NUM_MACHINES" >&2
    exit 2
fi
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
exec "${ACCELERATE:-accelerate}" launch --config_file "$here/accelerate/zero3-multinode.yaml" \
    --num_machines "$NUM_MACHINES" --num_processes "$((NUM_MACHINES * GPUS_PER_NODE))" \
    --machine_rank "$NODE_RANK" --main_process_ip "$MASTER_ADDR" --main_process_port "$MASTER_PORT" \
    -m decensor.train "$@"
