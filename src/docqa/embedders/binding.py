"""Which embedder opens a collection: the one chosen explicitly, else the one the collection was built with.

A collection records the model id of the embedder that built it. Without an
explicit choice (`Settings.embedder` empty, no embedder object passed), an
existing collection opens with that embedder and a new one with
`Settings.default_embedder`; so changing the default never strands a
collection built before. An explicit choice that differs from the recorded
one is an EmbedderMismatch naming the command that switches the collection.
"""

from __future__ import annotations

from docqa.config import Settings
from docqa.embedders.base import Embedder
from docqa.embedders.foreign import ForeignEmbedder
from docqa.embedders.registry import get_embedder, name_for_model
from docqa.errors import EmbedderMismatch

Binding = tuple[str, int]  # (model id, dim) recorded for a collection


def embedder_for_collection(settings: Settings, bound: Binding | None, chosen: Embedder | None = None) -> Embedder:
    """The embedder to open the collection with; `bound` is what the collection records (None: a new one).

    Raises EmbedderMismatch when an explicit choice (`chosen`, or `settings.embedder`) is not the recorded one."""
    if chosen is None and not settings.embedder and bound is not None:
        name = name_for_model(bound[0])
        if name is None:  # built outside docqa: open it for what needs no embedding
            return ForeignEmbedder(settings.collection, *bound)
        embedder = get_embedder(settings, name)
    else:
        embedder = chosen or get_embedder(settings)
    if bound is not None:
        check_binding(settings, bound, embedder)
    return embedder


def check_binding(settings: Settings, bound: Binding, embedder: Embedder) -> None:
    """Refuse an embedder whose vectors are not the collection's, naming both ways out."""
    if (embedder.model_id, embedder.dim) == bound:
        return
    stored_model, stored_dim = bound
    collection = settings.collection
    wanted = name_for_model(embedder.model_id) or settings.embedder or embedder.model_id
    keep = name_for_model(stored_model)
    prefix = "docqa" if collection == "default" else f"docqa --collection {collection}"
    keep_hint = f" (or with --embedder {keep})" if keep else ""
    raise EmbedderMismatch(
        f"collection {collection!r} was built with embedder {stored_model!r} (dim {stored_dim}), not "
        f"{embedder.model_id!r} (dim {embedder.dim}); to keep it, open it without choosing an embedder{keep_hint}; "
        f"to switch it, run: {prefix} reembed --to {wanted}",
        collection=collection,
        stored_model=stored_model,
        requested_model=embedder.model_id,
        command=f"{prefix} reembed --to {wanted}",
    )
