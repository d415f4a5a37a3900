"""A class at once: N sessions speaking Streamlit's own websocket protocol against a real server.

No browsers: each session is a websocket client of ``/_stcore/stream`` that sends the protobuf
``BackMsg``s a browser sends (a page load, then a widget change every ~THINK s) and reads the
``ForwardMsg``s back, so the figures are the server's. A fragment that asks to poll
(``st.fragment(run_every=...)``) is polled as a browser polls it.

For every page (and for a bare one-line reference page, measured in the same run) it prints:
p50/p95/max rerun time (a widget change sent -> the script run finished), the reruns the server
ran (polls included), the server's CPU per rerun (psutil on the server process) and the load
average at the time. Also the server's RSS: idle, after one visit of every page, per further session.

Modes:
  (default)   the load test above, ``--sessions`` clients per page for ``--duration`` s each
  --nochange  one session per page sends ``--reruns`` reruns that change nothing: server CPU ms per
              rerun against the bare page
  --memory N  one session per page, cycling through them, changing a widget N times (with --nochange:
              N reruns that change nothing); RSS every N/10 reruns
  --per-widget  one session per page changes each of its widgets in turn (``--reruns`` changes each, at
              most): server CPU ms per change of each widget, costliest first (where a page's time goes)

Usage:
  python benchmarks/classroom.py --sessions 30 --think 2 [--pages output-size,activations]
  python benchmarks/classroom.py --url http://host:port [--reference-url URL] [--server-pid PID] ...
Without ``--url`` it starts ``streamlit run streamlit_app.py`` (and the reference page) itself on
loopback ports, with a temporary CVLAB_HOME.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

import psutil  # noqa: E402
from streamlit.proto.BackMsg_pb2 import BackMsg  # noqa: E402
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg  # noqa: E402
from websockets.asyncio.client import connect  # noqa: E402

from tests.harness import app_server  # noqa: E402

REFERENCE = "benchmarks/reference_app.py"
FINISHED = {ForwardMsg.FINISHED_SUCCESSFULLY, ForwardMsg.FINISHED_FRAGMENT_RUN_SUCCESSFULLY,
            ForwardMsg.FINISHED_WITH_COMPILE_ERROR}


def load() -> str:
    return "load %.2f" % os.getloadavg()[0]


def wait_for_quiet(limit: float, wait_s: float) -> None:
    """Wait up to ``wait_s`` for the 1-minute load average to fall under ``limit`` (a shared machine)."""
    deadline = time.monotonic() + wait_s
    while os.getloadavg()[0] >= limit and time.monotonic() < deadline:
        time.sleep(5)


# --- one browser tab, as the server sees it ---------------------------------------------------

@dataclass
class Widget:
    id: str
    kind: str
    fragment_id: str
    proto: object


@dataclass
class Session:
    url: str
    page: str  # url path; "" is the default page
    query_string: str = ""  # the address bar's query, as the server last set it
    ws: object = None
    page_hash: str = ""
    widgets: dict = field(default_factory=dict)
    sent: dict = field(default_factory=dict)  # widget id -> WidgetState we changed
    finished: asyncio.Event = field(default_factory=asyncio.Event)
    polls: dict = field(default_factory=dict)  # fragment id -> poll task
    reruns: int = 0
    poll_runs: int = 0
    errors: list = field(default_factory=list)
    busy: bool = False
    reader: asyncio.Task | None = None
    texts: list = field(default_factory=list)  # the Markdown the last run sent
    drawn: set = field(default_factory=set)  # the widgets the last full run drew
    tabs: dict = field(default_factory=dict)  # st.tabs key (query parameter) -> the container's widget id

    async def open(self) -> float:
        ws_url = self.url.replace("http", "ws", 1).rstrip("/") + "/_stcore/stream"
        self.ws = await connect(ws_url, subprotocols=["streamlit"], max_size=None, open_timeout=60,
                                ping_interval=None)
        self.reader = asyncio.create_task(self._read())
        return await self.rerun()

    async def close(self) -> None:
        for task in self.polls.values():
            task.cancel()
        if self.ws is not None:
            await self.ws.close()
        if self.reader is not None:
            self.reader.cancel()
            with contextlib.suppress(BaseException):
                await self.reader

    async def _read(self) -> None:
        async for data in self.ws:
            msg = ForwardMsg()
            msg.ParseFromString(data)
            kind = msg.WhichOneof("type")
            if kind == "navigation":  # the page that ran (new_session names the entry script's)
                self.page_hash = msg.navigation.page_script_hash
            elif kind == "new_session" and not self.page_hash:
                self.page_hash = msg.new_session.page_script_hash
            elif kind == "page_info_changed":
                self.query_string = msg.page_info_changed.query_string
            elif kind == "delta" and msg.delta.WhichOneof("type") == "add_block":
                block = msg.delta.add_block
                if block.WhichOneof("type") == "tab_container" and block.tab_container.id:
                    self.drawn.add(block.tab_container.id)
                    self.tabs[block.tab_container.query_param_key or block.tab_container.id] = block.tab_container.id
            elif kind == "delta" and msg.delta.WhichOneof("type") == "new_element":
                element = msg.delta.new_element
                etype = element.WhichOneof("type")
                if etype in ("number_input", "slider", "selectbox", "checkbox", "toggle"):
                    proto = getattr(element, etype)
                    self.drawn.add(proto.id)
                    if not proto.disabled and not proto.form_id:
                        self.widgets[proto.id] = Widget(proto.id, etype, msg.delta.fragment_id, proto)
                elif etype == "markdown":
                    self.texts.append(element.markdown.body)
                elif etype == "exception":
                    self.errors.append(element.exception.message)
            elif kind == "auto_rerun":
                fid = msg.auto_rerun.fragment_id
                if fid not in self.polls:
                    self.polls[fid] = asyncio.create_task(self._poll(fid, msg.auto_rerun.interval))
            elif kind == "stop_auto_rerun":
                for fid in msg.stop_auto_rerun.fragment_ids:
                    task = self.polls.pop(fid, None)
                    if task:
                        task.cancel()
            elif kind == "script_finished" and msg.script_finished in FINISHED:
                self.finished.set()

    def _client_state(self, msg: BackMsg, fragment_id: str = "") -> None:
        state = msg.rerun_script
        state.query_string = self.query_string
        state.page_name = self.page
        state.page_script_hash = self.page_hash
        state.fragment_id = fragment_id
        state.widget_states.widgets.extend(self.sent.values())

    async def rerun(self, fragment_id: str = "", timeout: float = 300) -> float:
        """Send a rerun (the widget states changed so far) and wait for the run to finish; seconds."""
        while self.busy:  # one run at a time per tab, as a browser does
            await asyncio.sleep(0.01)
        self.busy = True
        try:
            msg = BackMsg()
            self._client_state(msg, fragment_id)
            self.finished.clear()
            self.texts = []
            if not fragment_id:
                self.drawn = set()
            start = time.perf_counter()
            await self.ws.send(msg.SerializeToString())
            await asyncio.wait_for(self.finished.wait(), timeout)
            took = time.perf_counter() - start
            if not fragment_id:  # a browser forgets the state of a widget the run did not draw
                self.sent = {wid: state for wid, state in self.sent.items() if wid in self.drawn}
                self.widgets = {wid: w for wid, w in self.widgets.items() if wid in self.drawn}
            return took
        finally:
            self.busy = False

    async def _poll(self, fragment_id: str, interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            if self.busy:
                continue
            self.busy = True
            try:
                msg = BackMsg()
                self._client_state(msg, fragment_id)
                msg.rerun_script.is_auto_rerun = True
                self.finished.clear()
                await self.ws.send(msg.SerializeToString())
                await asyncio.wait_for(self.finished.wait(), 120)
                self.poll_runs += 1
            except (asyncio.TimeoutError, OSError):
                pass
            finally:
                self.busy = False

    async def set(self, state, fragment_id: str = "") -> float:
        """Set one widget (a WidgetState) as a browser does when it changes, and rerun."""
        self.sent[state.id] = state
        return await self.rerun(fragment_id)

    async def open_tab(self, key: str, label: str) -> float:
        """Click the tab ``label`` of the st.tabs bound to ``key``."""
        from streamlit.proto.WidgetStates_pb2 import WidgetState

        return await self.set(WidgetState(id=self.tabs[key], string_value=label))

    async def change(self, rng: random.Random) -> float | None:
        """Change one widget of the page to another valid value, as a student does; the rerun's seconds."""
        for widget in rng.sample(list(self.widgets.values()), len(self.widgets)):
            state = _next_state(widget, self.sent.get(widget.id), rng)
            if state is not None:
                self.sent[widget.id] = state
                return await self.rerun(widget.fragment_id)
        return None


def _next_state(widget: Widget, previous, rng: random.Random):
    """A WidgetState holding a different valid value for the widget, or None when it has none."""
    from streamlit.proto.WidgetStates_pb2 import WidgetState

    p, state = widget.proto, WidgetState(id=widget.id)
    if widget.kind == "number_input":
        step = p.step or 1
        low = p.min if p.has_min else p.default - 10 * step
        high = p.max if p.has_max else p.default + 10 * step
        values = [low + i * step for i in range(int(min((high - low) / step, 50)) + 1)]
        if len(values) < 2:
            return None
        state.double_value = rng.choice(values[:50])
    elif widget.kind == "slider":
        if p.options:
            state.string_array_value.data.extend([rng.choice(list(p.options))] * len(p.default))
        else:
            if p.max <= p.min or p.step <= 0:
                return None
            steps = int((p.max - p.min) / p.step)
            picks = sorted(p.min + rng.randint(0, steps) * p.step for _ in p.default)
            state.double_array_value.data.extend(picks)
    elif widget.kind == "selectbox":
        if len(p.options) < 2:
            return None
        state.string_value = rng.choice(list(p.options))
    else:  # checkbox, toggle: flip it
        state.bool_value = not (previous.bool_value if previous is not None else p.default)
    return state


# --- the server ---------------------------------------------------------------------------------

@contextlib.contextmanager
def streamlit_server(script: str, home: Path):
    """``streamlit run script`` on a free loopback port with ``home`` as its data home: (URL, its process)."""
    with app_server(home, script=script, startup_timeout_s=90) as (url, process):
        yield url, psutil.Process(process.pid)


def cpu_s(process: psutil.Process | None) -> float:
    if process is None:
        return float("nan")
    times = process.cpu_times()
    return times.user + times.system


def rss_mb(process: psutil.Process | None) -> float:
    return process.memory_info().rss / 2**20 if process is not None else float("nan")


# --- the measurements ---------------------------------------------------------------------------

def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


async def load_test(url: str, page: str, process, sessions: int, think: float, duration: float,
                    seed: int) -> dict:
    rng = random.Random(seed)
    clients = [Session(url, page) for _ in range(sessions)]
    for client in clients:  # a class arriving: one page load after another
        await client.open()
    times: list[float] = []
    stop = time.monotonic() + duration
    cpu0, polls0 = cpu_s(process), 0

    async def student(client: Session, rng: random.Random) -> None:
        await asyncio.sleep(rng.uniform(0, think))
        while time.monotonic() < stop:
            took = await client.change(rng)
            if took is None:
                took = await client.rerun()
            times.append(took)
            await asyncio.sleep(rng.uniform(0.5, 1.5) * think)

    start = time.monotonic()
    await asyncio.gather(*(student(c, random.Random(rng.random())) for c in clients))
    elapsed = time.monotonic() - start
    cpu = cpu_s(process) - cpu0
    polls = sum(c.poll_runs for c in clients) - polls0
    errors = sorted({e.splitlines()[0][:80] for c in clients for e in c.errors})
    changeable = len(clients[0].widgets)
    rss = rss_mb(process)
    for client in clients:
        await client.close()
    runs = len(times) + polls
    return {"page": page or "home", "sessions": sessions, "reruns": len(times), "polls": polls,
            "p50": pct(times, 0.5) * 1000, "p95": pct(times, 0.95) * 1000, "max": max(times, default=0) * 1000,
            "cpu_ms": cpu * 1000 / runs if runs else float("nan"), "cpu_share": cpu / elapsed,
            "rss": rss, "widgets": changeable, "errors": errors, "load": load()}


async def nochange(url: str, page: str, process, reruns: int) -> dict:
    client = Session(url, page)
    await client.open()
    for _ in range(3):
        await client.rerun()
    cpu0, start = cpu_s(process), time.perf_counter()
    times = [await client.rerun() for _ in range(reruns)]
    cpu = cpu_s(process) - cpu0
    await client.close()
    return {"page": page or "home", "cpu_ms": cpu * 1000 / reruns, "p50": pct(times, 0.5) * 1000,
            "wall_ms": (time.perf_counter() - start) * 1000 / reruns, "load": load()}


async def per_widget(url: str, page: str, process, changes: int) -> list[dict]:
    """Server CPU per change of each widget of the page, one session, the others left as they are."""
    rng = random.Random(3)
    client = Session(url, page)
    await client.open()
    rows, seen = [], set()
    while True:
        pending = [w for w in client.widgets.values() if w.proto.label not in seen]
        if not pending:
            break
        widget = pending[0]
        seen.add(widget.proto.label)
        cpus, times = [], []
        for _ in range(changes):
            widget = next((w for w in client.widgets.values() if w.proto.label == widget.proto.label), None)
            state = widget and _next_state(widget, client.sent.get(widget.id), rng)
            if state is None:
                break
            cpu0 = cpu_s(process)
            times.append(await client.set(state, widget.fragment_id))
            cpus.append(cpu_s(process) - cpu0)
        if cpus:
            rows.append({"page": page, "widget": f"{widget.kind} '{widget.proto.label[:40]}'", "changes": len(cpus),
                         "cpu_ms": 1000 * sum(cpus) / len(cpus), "max_cpu_ms": 1000 * max(cpus),
                         "p50": pct(times, 0.5) * 1000, "load": load()})
    await client.close()
    return sorted(rows, key=lambda row: -row["cpu_ms"])


async def visit_every_page(url: str, pages: list[str], settle_s: float = 120) -> None:
    """One visit of every page, then until a new session of the first page is asked to poll nothing (the
    device check each server process makes once, for one): behind a proxy, fresh sessions land on every
    replica in turn, and a class meets warmed-up servers after its first minute."""
    for page in pages:
        client = Session(url, page)
        await client.open()
        await client.close()
    deadline = time.monotonic() + settle_s
    while time.monotonic() < deadline:
        client = Session(url, pages[0])
        await client.open()
        polling = bool(client.polls)
        await client.close()
        if not polling:
            return
        await asyncio.sleep(1)


async def memory(url: str, pages: list[str], process, reruns: int, change: bool = True) -> list[tuple[int, float]]:
    rng = random.Random(7)
    clients = [Session(url, page) for page in pages]
    for client in clients:
        await client.open()
    samples = [(0, rss_mb(process), load())]
    for i in range(1, reruns + 1):
        client = clients[i % len(clients)]
        if not change or await client.change(rng) is None:
            await client.rerun()
        if i % max(1, reruns // 10) == 0:
            samples.append((i, rss_mb(process), load()))
    for client in clients:
        await client.close()
    return samples


def print_header(title: str, columns: list[tuple[str, str]]) -> None:
    print(f"\n{title}\n" + " | ".join(name for name, _ in columns), flush=True)


def print_line(row: dict, columns: list[tuple[str, str]]) -> None:
    print(" | ".join(fmt.format(row[name]) if name in row else "" for name, fmt in columns), flush=True)


def print_rows(title: str, rows: list[dict], columns: list[tuple[str, str]]) -> None:
    print_header(title, columns)
    for row in rows:
        print_line(row, columns)


LOAD_COLUMNS = [("page", "{}"), ("sessions", "{}"), ("reruns", "{}"), ("polls", "{}"), ("p50", "{:.0f}"),
                ("p95", "{:.0f}"), ("max", "{:.0f}"), ("cpu_ms", "{:.1f}"), ("cpu_share", "{:.2f}"),
                ("rss", "{:.0f}"), ("rss_per_session", "{:+.1f}"), ("widgets", "{}"), ("load", "{}"), ("errors", "{}")]
WIDGET_COLUMNS = [("page", "{}"), ("widget", "{}"), ("changes", "{}"), ("cpu_ms", "{:.1f}"), ("max_cpu_ms", "{:.1f}"),
                  ("p50", "{:.1f}"), ("load", "{}")]
NOCHANGE_COLUMNS = [("page", "{}"), ("cpu_ms", "{:.1f}"), ("over_bare", "{:+.1f}"), ("p50", "{:.1f}"),
                    ("load", "{}")]


async def run(args, url: str, process, ref_url: str | None, ref_process) -> None:
    pages = args.pages
    print(f"server {url} ({load()}); RSS idle {rss_mb(process):.0f} MB")
    await visit_every_page(url, pages)
    after_visit = rss_mb(process)
    print(f"RSS after one visit of every page: {after_visit:.0f} MB ({load()})")

    if args.memory:
        what = "that change nothing" if args.nochange else "each changing a widget"
        print(f"RSS over {args.memory} reruns {what}, cycling through the pages:")
        for count, rss, at in await memory(url, pages, process, args.memory, change=not args.nochange):
            print(f"  after {count:5d} reruns: RSS {rss:.0f} MB ({at})", flush=True)
        return

    if args.per_widget:
        print_header("Server CPU ms per change of each widget, 1 session (costliest first)", WIDGET_COLUMNS)
        for page in pages:
            wait_for_quiet(args.quiet_load, args.quiet_wait)
            for row in await per_widget(url, page, process, args.reruns):
                print_line(row, WIDGET_COLUMNS)
        return

    if args.nochange:
        rows = []
        targets = ([(ref_url, "", ref_process, "bare page")] if ref_url else []) + \
                  [(url, page, process, None) for page in pages]
        for target_url, page, proc, label in targets:
            wait_for_quiet(args.quiet_load, args.quiet_wait)
            row = await nochange(target_url, page, proc, args.reruns)
            row["page"] = label or row["page"]
            rows.append(row)
        bare = rows[0]["cpu_ms"] if ref_url else float("nan")
        for row in rows:
            row["over_bare"] = row["cpu_ms"] - bare
        print_rows(f"Rerun that changes nothing, 1 session, {args.reruns} reruns: server CPU ms per rerun",
                   rows, NOCHANGE_COLUMNS)
        return

    rows = []
    for sessions in args.sessions:
        targets = ([(ref_url, "", ref_process, "bare page")] if ref_url else []) + \
                  [(url, page, process, None) for page in pages]
        for target_url, page, proc, label in targets:
            wait_for_quiet(args.quiet_load, args.quiet_wait)
            before = rss_mb(proc)
            row = await load_test(target_url, page, proc, sessions, args.think, args.duration, args.seed)
            row["page"] = label or row["page"]
            row["rss_per_session"] = (row["rss"] - before) / sessions
            rows.append(row)
            if len(rows) == 1:
                print_header(f"{args.think:g} s think time, {args.duration:g} s per page; ms (p50/p95/max rerun, "
                             "server CPU per rerun incl. polls), CPU share = server CPU s per s, RSS MB (after the "
                             "sessions, and its growth per session)", LOAD_COLUMNS)
            print_line(row, LOAD_COLUMNS)
    print(f"\nRSS after all sessions: {rss_mb(process):.0f} MB; idle then visited {after_visit:.0f} MB")


def main(argv: list[str] | None = None) -> None:
    from cvlab.syllabus import PAGES

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="an existing server (default: start one)")
    parser.add_argument("--reference-url", help="with --url: a server running benchmarks/reference_app.py")
    parser.add_argument("--server-pid", type=int, help="with --url: the server's process, for CPU and RSS")
    parser.add_argument("--sessions", default="1,30", help="sessions per page, e.g. 1,30")
    parser.add_argument("--pages", default=",".join(p for p in PAGES if p != "home"),
                        help="comma-separated url paths (default: every page but home)")
    parser.add_argument("--think", type=float, default=2.0, help="seconds between one session's changes (~)")
    parser.add_argument("--duration", type=float, default=20.0, help="seconds of load per page")
    parser.add_argument("--nochange", action="store_true", help="measure reruns that change nothing")
    parser.add_argument("--reruns", type=int, default=30,
                        help="with --nochange: reruns per page; with --per-widget: changes per widget")
    parser.add_argument("--per-widget", action="store_true", help="server CPU per change of each widget")
    parser.add_argument("--memory", type=int, default=0, help="RSS over this many reruns across the pages")
    parser.add_argument("--quiet-load", type=float, default=1.5, help="wait for a load average under this")
    parser.add_argument("--quiet-wait", type=float, default=60, help="seconds to wait for it at most")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    args.sessions = [int(s) for s in args.sessions.split(",")]
    args.pages = [p.strip() for p in args.pages.split(",") if p.strip()]

    with contextlib.ExitStack() as stack:
        if args.url:
            url, ref_url = args.url, args.reference_url
            process = psutil.Process(args.server_pid) if args.server_pid else None
            ref_process = None
        else:
            home = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="cvlab-classroom-")))
            url, process = stack.enter_context(streamlit_server("streamlit_app.py", home))
            ref_url, ref_process = stack.enter_context(streamlit_server(REFERENCE, home))
        asyncio.run(run(args, url, process, ref_url, ref_process))


if __name__ == "__main__":
    main()
