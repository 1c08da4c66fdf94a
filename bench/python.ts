/**
 * Running a Python reference beside a bench (OpenCV for preprocessing, PyTorch for
 * training), when the machine has one: Debian's python3-opencv and python3-torch
 * live in /usr/bin/python3, which a pyenv or venv `python3` on the PATH may hide.
 * @module
 */

/** The first python3 on the machine that can import `module`, or null. */
export async function findPython(module: string): Promise<string | null> {
  for (const python of ["python3", "/usr/bin/python3"]) {
    try {
      const { code } = await new Deno.Command(python, {
        args: ["-c", `import ${module}`],
        stdout: "null",
        stderr: "null",
      }).output();
      if (code === 0) return python;
    } catch {
      // no such interpreter
    }
  }
  return null;
}

/** Runs `script` with `args`; its stdout split on whitespace, or null if it failed. */
export async function runPython(
  python: string,
  script: string,
  args: string[],
  env: Record<string, string> = {},
): Promise<string[] | null> {
  const { code, stdout } = await new Deno.Command(python, {
    args: ["-c", script, ...args],
    stdout: "piped",
    stderr: "null",
    env,
  }).output();
  return code === 0 ? new TextDecoder().decode(stdout).trim().split(/\s+/) : null;
}

/**
 * The ways PyTorch is run: fully tuned as its CPU users tune it (glibc keeping freed memory, and OpenMP's
 * threads sleeping rather than spinning while OpenBLAS's work: on 2 cores they otherwise fight, ~1.3x), with
 * the memory setting alone, and as installed.
 */
export const PYTORCH_ALLOCATORS: { name: string; env: Record<string, string> }[] = [
  {
    name: "fully tuned: MALLOC_MMAP_THRESHOLD_=2147483647 MALLOC_TRIM_THRESHOLD_=17179869184 OMP_WAIT_POLICY=PASSIVE",
    env: { MALLOC_MMAP_THRESHOLD_: "2147483647", MALLOC_TRIM_THRESHOLD_: "17179869184", OMP_WAIT_POLICY: "PASSIVE" },
  },
  {
    name: "freed memory kept: MALLOC_MMAP_THRESHOLD_=2147483647 MALLOC_TRIM_THRESHOLD_=17179869184",
    env: { MALLOC_MMAP_THRESHOLD_: "2147483647", MALLOC_TRIM_THRESHOLD_: "17179869184" },
  },
  { name: "default glibc", env: {} },
];

/**
 * Python defining `make_net(model, inputs)`: the preset as a PyTorch user writes it (Linear, BatchNorm1d for
 * part3, ReLU; a Linear output read as logits; resmlp as Bachmann et al.'s code writes it, with a final
 * LayerNorm), for the training benches to put in front of their scripts.
 */
export const PYTORCH_NET = `
import torch.nn as nn
class Block(nn.Module):
    def __init__(self, width, expansion):
        super().__init__()
        self.norm = nn.LayerNorm(width)
        self.mlp = nn.Sequential(nn.Linear(width, width * expansion), nn.GELU(), nn.Linear(width * expansion, width))
    def forward(self, x):
        return x + self.mlp(self.norm(x))
def make_net(model, inputs):
    if model == "resmlp":
        return nn.Sequential(nn.Linear(inputs, 512), *[Block(512, 4) for _ in range(4)], nn.LayerNorm(512), nn.Linear(512, 1))
    layers, width = [], inputs
    for h in {"part1": [5, 3], "part3": [1024, 2048, 2048, 1024]}[model]:
        layers += [nn.Linear(width, h)] + ([nn.BatchNorm1d(h)] if model == "part3" else []) + [nn.ReLU()]
        width = h
    return nn.Sequential(*layers, nn.Linear(width, 1))
`;
