"""Times the reference PyTorch port of AlphaGenome (genomicsxai/alphagenome-pytorch) on one random
sequence with its own random initialisation, for `npm run bench -- alphagenome --port DIR`.

    python3 alphagenome_port.py PORT_DIR LENGTH RUNS THREADS

PORT_DIR is an unpacked checkout of the port (its `src/` is put on sys.path); nothing of it is
patched or copied. Prints one JSON line: {"times_s": [...], "init_s": ..., "peak_rss_mb": ...,
"torch": version, "threads": n}. The first timed forward is cold (the port has no warm-up of its own);
with RUNS > 1 the later ones are warm.
"""
import json
import os
import resource
import sys
import time

port, length, runs, threads = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
sys.path.insert(0, os.path.join(port, "src"))
import torch  # noqa: E402

torch.set_num_threads(threads)
torch.manual_seed(1234)
from alphagenome_pytorch import AlphaGenome  # noqa: E402

t = time.perf_counter()
model = AlphaGenome()
model.eval()
init_s = time.perf_counter() - t
x = torch.nn.functional.one_hot(torch.randint(0, 4, (1, length)), 4).float()
organism = torch.tensor([0])
times = []
with torch.no_grad():
    for _ in range(runs):
        t = time.perf_counter()
        out = model(x, organism)
        times.append(time.perf_counter() - t)
        del out
        print(json.dumps({"partial_s": times[-1]}), flush=True)
print(json.dumps({"times_s": times, "init_s": init_s, "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "torch": torch.__version__, "threads": torch.get_num_threads()}), flush=True)
