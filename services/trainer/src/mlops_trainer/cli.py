"""``mlops-train``: prepare, train, evaluate, export, optimise, promote, rollback, bootstrap,
import.

Hydra overrides go after the subcommand (``mlops-train train model=cnn_large optimizer.lr=1e-3``);
``train -m`` runs a Hydra multirun sweep (``mlops-train train -m +experiment=sweep``).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from mlops_common.logs import configure_logging
from mlops_trainer.settings import TrainerSettings

log = logging.getLogger("mlops_trainer.cli")


def _quiet_exporter_logs() -> None:
    """The ONNX exporter's optimiser logs every pass at INFO; keep its warnings only."""
    for name in ("onnxscript", "onnx_ir", "torch.onnx"):
        logging.getLogger(name).setLevel(logging.WARNING)


def _print(payload: dict[str, Any]) -> None:
    print(json.dumps(payload, indent=2, default=str))


def _cmd_prepare(args: argparse.Namespace, settings: TrainerSettings) -> int:
    from mlops_trainer.config import compose_config
    from mlops_trainer.data import save_prepared
    from mlops_trainer.train import load_data

    split, manifest = load_data(compose_config(args.overrides, settings.conf_dir))
    save_prepared(args.output / "digits.npz", split, manifest)
    _print(
        {"output": str(args.output), "sizes": manifest.sizes, "content_hash": manifest.content_hash}
    )
    return 0


def _multirun(overrides: Sequence[str], settings: TrainerSettings) -> int:
    import hydra
    from omegaconf import DictConfig

    from mlops_trainer.pipeline import run_pipeline

    def job(cfg: DictConfig) -> float:
        _quiet_exporter_logs()  # Hydra has just configured logging for the job
        return run_pipeline(cfg, settings=settings).metrics["test_accuracy"]

    sys.argv = ["mlops-train", "--multirun", *overrides]
    main = hydra.main(
        config_path=str(settings.conf_dir.resolve()), config_name="config", version_base="1.3"
    )(job)
    main()
    return 0


def _cmd_train(args: argparse.Namespace, settings: TrainerSettings) -> int:
    if args.multirun:
        return _multirun(args.overrides, settings)
    from mlops_trainer.config import compose_config
    from mlops_trainer.pipeline import run_pipeline

    cfg = compose_config(args.overrides, settings.conf_dir)
    result = run_pipeline(cfg, settings=settings, checkpoint=args.save)
    _print(result.as_dict())
    return 0


def _bootstrap_one(
    model: str, overrides: Sequence[str], settings: TrainerSettings
) -> dict[str, Any]:
    """Train, register and promote ``model`` (a built-in task's) unless it has production or
    is not the trainer's to train (an imported model under that name is left alone)."""
    from mlops_common.promotion import alias_version, promote
    from mlops_common.registry import ALIAS_PRODUCTION
    from mlops_trainer.registry import make_client
    from mlops_trainer.trainable import NotTrainableError, plan_training

    client = make_client(settings.tracking_uri)
    current = alias_version(client, ALIAS_PRODUCTION, model)
    if current is not None:
        return {"model": model, "production": str(current.version), "trained": False}
    try:
        plan = plan_training(client, model)
    except NotTrainableError as refused:
        return {"model": model, "production": None, "trained": False, "skipped": str(refused)}
    from mlops_trainer.config import compose_config
    from mlops_trainer.pipeline import run_pipeline

    cfg = compose_config(
        ["trainer.enable_progress_bar=false", *plan.recipe.overrides, *overrides],
        settings.conf_dir,
    )
    result = run_pipeline(cfg, settings=settings, spec=plan.spec)
    if result.version is None:
        raise RuntimeError("bootstrap needs registry.register=true")
    if not result.promoted:
        promote(client, result.version, name=model)
    return {
        "model": model,
        "production": result.version,
        "trained": True,
        **result.as_dict(),
        "promoted": True,
    }


def _cmd_bootstrap(args: argparse.Namespace, settings: TrainerSettings) -> int:
    """Each built-in task's model that has no production version: train, register, promote.

    ``--task`` picks tasks (default: every built-in one). The Hydra overrides apply to every
    picked task's training. Models are handled one after the other; the output lists them
    (``trained`` false for one that already served, with ``skipped`` when its name belongs to an
    imported model).
    """
    from mlops_trainer.recipes import RECIPES

    tasks = args.task or list(RECIPES)
    unknown = [task for task in tasks if task not in RECIPES]
    if unknown:
        raise ValueError(f"unknown task(s) {unknown}: the built-in tasks are {list(RECIPES)}")
    models = [_bootstrap_one(RECIPES[t].model, args.overrides, settings) for t in tasks]
    _print({"models": models})
    return 0


def _cmd_evaluate(args: argparse.Namespace, settings: TrainerSettings) -> int:
    import tempfile

    from mlops_trainer.config import compose_config
    from mlops_trainer.evaluate import evaluate_onnx
    from mlops_trainer.registry import download_model
    from mlops_trainer.train import load_data

    split, manifest = load_data(compose_config(args.overrides, settings.conf_dir))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(args.model)
        if not path.is_file():
            import mlflow

            mlflow.set_tracking_uri(settings.tracking_uri)
            mlflow.set_registry_uri(settings.tracking_uri)
            path = download_model(args.model, Path(tmp))
        metrics = evaluate_onnx(path, split.x_test, split.y_test)
    if args.metrics:
        args.metrics.parent.mkdir(parents=True, exist_ok=True)
        args.metrics.write_text(json.dumps(metrics, indent=2) + "\n")
    _print({"model": args.model, "data_hash": manifest.content_hash, **metrics})
    return 0


def _cmd_export(args: argparse.Namespace, settings: TrainerSettings) -> int:
    from mlops_trainer.checkpoint import load_checkpoint
    from mlops_trainer.export import check_parity, export_onnx
    from mlops_trainer.train import load_data

    network, cfg = load_checkpoint(args.checkpoint)
    export_onnx(network, args.output, opset=int(cfg.export.opset))
    split, _ = load_data(cfg)
    parity = check_parity(network, args.output, split.x_test, atol=float(cfg.export.parity_atol))
    _print({"output": str(args.output), "parity": parity.as_dict()})
    return 0 if parity.ok else 1


def _cmd_optimise(args: argparse.Namespace, settings: TrainerSettings) -> int:
    from mlops_trainer.checkpoint import load_checkpoint
    from mlops_trainer.optimise import optimise_all

    network, cfg = load_checkpoint(args.checkpoint)
    report = optimise_all(
        network, cfg, args.output_dir, finetune_epochs=args.finetune_epochs, sparsity=args.sparsity
    )
    print(report.markdown())
    return 0


def _cmd_promote(args: argparse.Namespace, settings: TrainerSettings) -> int:
    from redis import Redis

    from mlops_common.promotion import promote, rollback
    from mlops_trainer.registry import make_client

    client = make_client(settings.tracking_uri)
    move = promote if args.command == "promote" else rollback
    with Redis.from_url(settings.redis_url, socket_connect_timeout=2, socket_timeout=5) as redis:
        done = move(client, args.version, publish=redis.publish)
    _print(
        {"production": done.version, "previous": done.previous, "event_published": done.published}
    )
    return 0


def _cmd_import(args: argparse.Namespace, settings: TrainerSettings) -> int:
    """Register an outside ONNX classifier (see :mod:`mlops_trainer.importer`)."""
    from redis import Redis

    from mlops_trainer.importer import import_model

    classes = [name.strip() for name in args.classes.split(",")]
    with Redis.from_url(settings.redis_url, socket_connect_timeout=2, socket_timeout=5) as redis:
        result = import_model(
            args.name,
            args.onnx,
            classes,
            reference=args.reference,
            stage=args.stage,
            settings=settings,
            publish=redis.publish,
        )
    _print(result.as_dict())
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``mlops-train``."""
    parser = argparse.ArgumentParser(
        prog="mlops-train",
        description="Train, export, register and manage classifiers (digits; imported ONNX).",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    def with_overrides(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
        p.add_argument("overrides", nargs="*", help="Hydra overrides, e.g. model=cnn_large seed=1")
        return p

    p = with_overrides(sub.add_parser("prepare", help="split the data and write it for DVC"))
    p.add_argument("--output", type=Path, default=Path("data/prepared"))
    p.set_defaults(handler=_cmd_prepare)
    p = with_overrides(sub.add_parser("train", help="train, export, register (and promote)"))
    p.add_argument("-m", "--multirun", action="store_true", help="Hydra multirun sweep")
    p.add_argument("--save", type=Path, default=None, help="also write a checkpoint here")
    p.set_defaults(handler=_cmd_train)
    p = with_overrides(
        sub.add_parser(
            "bootstrap", help="train and promote each built-in task's model that has no production"
        )
    )
    p.add_argument(
        "--task",
        action="append",
        default=None,
        help="a built-in task to bootstrap (repeatable; default: every one: digits, news)",
    )
    p.set_defaults(handler=_cmd_bootstrap)
    p = with_overrides(sub.add_parser("evaluate", help="test metrics of an ONNX file or model URI"))
    p.add_argument(
        "--model", required=True, help="path.onnx or models:/digits-classifier@production"
    )
    p.add_argument("--metrics", type=Path, default=None, help="write the metrics JSON here")
    p.set_defaults(handler=_cmd_evaluate)
    p = sub.add_parser("export", help="export a checkpoint to ONNX and check parity")
    p.add_argument("--checkpoint", type=Path, required=True)
    p.add_argument("--output", type=Path, required=True)
    p.set_defaults(handler=_cmd_export)
    p = sub.add_parser("optimise", help="int8 quantization and pruning of a checkpoint")
    p.add_argument("--checkpoint", type=Path, required=True)
    p.add_argument("--output-dir", type=Path, default=Path(".state/trainer/optimised"))
    p.add_argument("--finetune-epochs", type=int, default=5)
    p.add_argument("--sparsity", type=float, default=0.5)
    p.set_defaults(handler=_cmd_optimise)
    p = sub.add_parser("promote", help="point production at a version")
    p.add_argument("version")
    p.set_defaults(handler=_cmd_promote)
    p = sub.add_parser("rollback", help="point production back at the previous version")
    p.add_argument("version", nargs="?", default=None)
    p.set_defaults(handler=_cmd_promote)
    p = sub.add_parser("import", help="register an ONNX classifier trained elsewhere")
    p.add_argument("--name", required=True, help="registered model name, e.g. iris-classifier")
    p.add_argument("--onnx", type=Path, required=True, help="the model file (.onnx)")
    p.add_argument("--classes", required=True, help="class names in output order: a,b,c")
    p.add_argument("--reference", type=Path, default=None, help="drift reference sample (CSV)")
    p.add_argument("--stage", choices=["staging", "production"], default=None)
    p.set_defaults(handler=_cmd_import)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``mlops-train`` console script."""
    args = build_parser().parse_args(argv)
    settings = TrainerSettings()
    configure_logging("trainer", settings.log_level)
    _quiet_exporter_logs()
    try:
        return int(args.handler(args, settings))
    except (ValueError, RuntimeError, FileNotFoundError) as exc:
        log.error("command failed", extra={"command": args.command, "error": str(exc)})
        print(f"mlops-train {args.command}: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
