"""Drives a Jupyter kernel the way a person does in a live notebook, through Jupyter's own client
(jupyter_client, as the Notebook server, JupyterLab and nbclient use it): cells run one at a time,
and Kernel > Interrupt is `KernelManager.interrupt_kernel()`, the call behind the Stop button.

Used by tests/notebook_live_test.ts. Reads a JSON plan on stdin:

    {"kernel": "deno", "cwd": "notebooks", "notebook": "notebooks/02_baseline.ipynb",
     "steps": [{"cell": "setup"}, {"code": "1 + 1"},
               {"cell": "train", "interrupt_on": "Epoch 2/", "timeout": 300}]}

A step runs a notebook cell (by id) or code; with `interrupt_on` (a regular expression) the kernel
is interrupted once, as soon as an output of that step matches it. Prints one JSON line first
with the kernel's `language_info`, then one per step: seconds to idle, seconds from the
interrupt to idle, whether the kernel is alive, its exit code, the error, and every output (text
and mime types). A step that does not reach idle within its timeout ends the run.
"""
import json
import queue
import re
import sys
import time

from jupyter_client.manager import KernelManager


def output_of(msg):
    kind = msg["msg_type"]
    content = msg["content"]
    if kind == "stream":
        return {"type": kind, "text": content["text"], "mime": []}
    if kind in ("display_data", "update_display_data", "execute_result"):
        data = content.get("data", {})
        return {"type": kind, "text": str(data.get("text/plain", "")), "mime": sorted(data)}
    if kind == "error":
        return {"type": kind, "text": f"{content['ename']}: {content['evalue']}", "mime": []}
    return None


def run_step(km, kc, code, pattern, timeout):
    msg_id = kc.execute(code)
    started = time.monotonic()
    interrupted_at = None
    ended = None
    outputs = []
    error = None
    while time.monotonic() - started < timeout:
        try:
            msg = kc.get_iopub_msg(timeout=0.1)
        except queue.Empty:
            if not km.is_alive():
                break
            continue
        if msg["parent_header"].get("msg_id") != msg_id:
            continue
        if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
            ended = time.monotonic()
            break
        out = output_of(msg)
        if out is None:
            continue
        outputs.append(out)
        if out["type"] == "error":
            error = out["text"]
        if pattern is not None and interrupted_at is None and pattern.search(out["text"]):
            interrupted_at = time.monotonic()
            km.interrupt_kernel()
    return {
        "seconds": None if ended is None else round(ended - started, 3),
        "interrupted": interrupted_at is not None,
        "after_interrupt": None if interrupted_at is None or ended is None
        else round(ended - interrupted_at, 3),
        "error": error,
        "outputs": outputs,
    }


def main():
    plan = json.load(sys.stdin)
    cells = {}
    if plan.get("notebook"):
        with open(plan["notebook"], encoding="utf-8") as f:
            notebook = json.load(f)
        for cell in notebook["cells"]:
            if cell["cell_type"] == "code":
                source = cell["source"]
                cells[cell["id"]] = "".join(source) if isinstance(source, list) else source
    km = KernelManager(kernel_name=plan.get("kernel", "deno"))
    km.start_kernel(cwd=plan.get("cwd"))
    kc = km.client()
    kc.start_channels()
    try:
        kc.wait_for_ready(timeout=120)
        info = kc.kernel_info(reply=True, timeout=30)
        print(json.dumps({"language_info": info["content"].get("language_info")}), flush=True)
        for index, step in enumerate(plan["steps"]):
            code = cells[step["cell"]] if "cell" in step else step["code"]
            pattern = re.compile(step["interrupt_on"]) if step.get("interrupt_on") else None
            result = run_step(km, kc, code, pattern, step.get("timeout", 600))
            time.sleep(0.2)  # a dying kernel takes a moment to be reaped
            alive = km.is_alive()
            process = getattr(km.provisioner, "process", None)
            result.update({
                "step": index,
                "cell": step.get("cell"),
                "alive": alive,
                "exit_code": None if alive or process is None else process.poll(),
            })
            print(json.dumps(result), flush=True)
            if not alive or result["seconds"] is None:
                break
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


main()
