"""`tensorgame train`: the AlphaTensor loop on one target; `tensorgame plot`: its curves."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from tensorgame.commands.core import check_seed, parse_shape
from tensorgame.errors import TensorgameError, one_line

JOIN_SECONDS = 300  # how long a process waits for the others to start


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "train", help="train the agent by self-play on one matrix multiplication target",
        description="Sampled AlphaZero self-play (Flax network, mctx Gumbel search, synthetic "
                    "demonstrations) on the tensor game of <N,M,P>. Every solved game is "
                    "verified and saved to OUT/found/ at once (the best also to results/agent/); "
                    "orbax checkpoints allow --resume after a kill.")
    parser.add_argument("--target", required=True, metavar="N,M,P", help="e.g. 2,2,2")
    parser.add_argument("--field", choices=("Z", "Z2"), default="Z",
                        help="integers (default) or arithmetic mod 2")
    parser.add_argument("--config", metavar="FILE",
                        help="config file defining OVERRIDES (e.g. experiments/strassen.py); "
                        "default: the built-in config of the target (agents/presets.py: the "
                        "symmetric game for <2,2,2> over Z, else the defaults)")
    parser.add_argument("--out", metavar="DIR", help="run folder (default runs/<target>_<field>_s"
                                                     "<seed>)")
    parser.add_argument("--seconds", type=float, default=None,
                        help="wall-time budget for this session, checked between iterations "
                             "(an iteration may overrun it; default: until stopped)")
    parser.add_argument("--iterations", type=int, default=None,
                        help="stop after this many iterations (self-play moves of every game "
                             "slot, then learner updates) in total")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--resume", action="store_true", help="continue the run in --out")
    parser.add_argument("--results", default="results/agent", metavar="DIR",
                        help="where the best factorization per target is copied (default "
                             "results/agent; 'none' to skip)")
    parser.add_argument("--replay", action="append", default=[], metavar="FILE",
                        help="a scheme of the target (e.g. from `tensorgame improve`) replayed "
                             "like the run's own best games from the start (repeatable; the "
                             "plain game)")
    parser.add_argument("--quiet", action="store_true", help="no live progress line")
    parser.add_argument("--coordinator", metavar="HOST:PORT",
                        help="multi-host: address of process 0 (jax.distributed.initialize)")
    parser.add_argument("--num-processes", type=int, default=None, help="multi-host: processes")
    parser.add_argument("--process-id", type=int, default=None, help="multi-host: this process")
    parser.set_defaults(func=run_train)

    plot = subparsers.add_parser("plot", help="draw the training curves of a run to PNG",
                                 description="Reads RUN/metrics.jsonl and writes RUN/curves.png "
                                             "(loss, best rank, ranks of finished games).")
    plot.add_argument("run", metavar="RUN", help="run folder")
    plot.add_argument("--output", metavar="PNG", help="default RUN/curves.png")
    plot.set_defaults(func=run_plot)


def run_train(args: argparse.Namespace) -> int:
    shape = parse_shape(args.target, "--target")
    check_seed(args.seed)
    if args.seconds is not None and not args.seconds > 0:  # nan too: it would never stop
        raise TensorgameError("--seconds must be positive")
    if args.iterations is not None and args.iterations < 1:
        raise TensorgameError("--iterations must be at least 1")
    check_processes(args.coordinator, args.num_processes, args.process_id)

    from agents.config import load_config
    from agents.presets import preset

    # Bad configs fail before JAX starts.
    config_name, config = ((args.config, load_config(args.config)) if args.config else
                           preset(shape, args.field))
    import jax

    if args.coordinator:
        join_processes(args.coordinator, args.num_processes, args.process_id)
    from agents.compilation import enable_compilation_cache

    enable_compilation_cache()
    from agents.setup import make_setup
    from agents.train import Trainer

    n, m, p = shape
    out = Path(args.out or f"runs/{n}x{m}x{p}_{args.field}_s{args.seed}")
    results = None if args.results == "none" else Path(args.results)
    setup = make_setup(shape, args.field, config, args.seed)
    replay = [(path, replay_moves(path, setup)) for path in args.replay]
    begin = time.perf_counter()
    say = print if jax.process_index() == 0 else (lambda *a, **k: None)
    live = sys.stdout.isatty() and not args.quiet

    def log(message: str) -> None:
        say(("\r\033[K" if live else "") + message, flush=True)

    trainer = Trainer(setup, out, results, resume=args.resume, log=log, replay=replay)
    say(f"training on <{n},{m},{p}> over {args.field}, seed {args.seed}, "
        f"{trainer.devices} device(s), config {config_name} ({trainer.hash}), run folder {out}",
        flush=True)

    def progress(metrics: dict) -> None:
        if args.quiet:
            return
        line = (f"step {metrics['iteration']:5d}  {time.perf_counter() - begin:7.1f}s  "
                f"games/s {metrics['games_per_s']:7.1f}  sims/s {metrics['simulations_per_s']:8.0f}"
                f"  loss {metrics['loss']:.3f} (policy {metrics['policy_loss']:.3f}, value "
                f"{metrics['value_loss']:.3f})  solved {metrics['solved_fraction']:.2f}  "
                f"best rank {metrics['best_rank'] or '-'}")
        say(("\r\033[K" + line) if live else line, end="" if live else "\n", flush=True)

    result = trainer.run(args.seconds, progress, max_iterations=args.iterations)
    if live:
        say()
    best = result.best_rank or "none"
    say(f"stopped after {result.iteration} batches, {result.games} games, "
        f"{result.wall:.1f}s of training; best rank {best}; checkpoint in {out}/checkpoints")
    return 0


def replay_moves(path: str, setup):
    """The moves [R, 3, S] of the scheme in ``path`` for the run's game (one-line errors)."""
    from agents.solutions import scheme_moves
    from tensorgame import io

    scheme = io.load(path)
    try:
        return scheme_moves(scheme, setup.shape, setup.field, setup.game)
    except TensorgameError as error:
        raise TensorgameError(f"--replay {one_line(path)}: {error}") from None


def check_processes(coordinator: str | None, count: int | None, index: int | None) -> None:
    """A one-line error unless the multi-process flags are all absent or all valid."""
    given = [x is not None for x in (coordinator, count, index)]
    if not any(given):
        return
    if not all(given):
        raise TensorgameError("--coordinator, --num-processes and --process-id go together")
    host, _, port = coordinator.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise TensorgameError(f"--coordinator must be HOST:PORT, got {coordinator!r}")
    if count < 1:
        raise TensorgameError("--num-processes must be at least 1")
    if not 0 <= index < count:
        raise TensorgameError(f"--process-id must lie in [0, {count - 1}], got {index}")


def join_processes(coordinator: str, count: int, index: int) -> None:
    """jax.distributed.initialize (CPU collectives: gloo); a one-line error if it fails."""
    import jax

    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    try:
        jax.distributed.initialize(coordinator_address=coordinator, num_processes=count,
                                   process_id=index, initialization_timeout=JOIN_SECONDS)
    except Exception as error:  # jaxlib raises its own runtime errors, with multi-line text
        reason = (str(error).splitlines() or [type(error).__name__])[0]
        raise TensorgameError(f"process {index} could not join the {count} processes at "
                              f"{coordinator} within {JOIN_SECONDS}s: {reason}") from None


def run_plot(args: argparse.Namespace) -> int:
    from agents.plots import plot_run, read_metrics

    run = Path(args.run)
    output = Path(args.output or run / "curves.png")
    plot_run(read_metrics(run), output, title=str(run))  # written atomically; errors one line
    print(f"wrote {one_line(output)}")
    return 0
