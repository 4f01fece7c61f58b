"""The multi-step task generator (bench/qabench/multistep.py) on a small made-up corpus: every
answer is what the commands a person would run say, the splits share no file, the same corpus
gives the same tasks, and every task is one smallagent's task files and planner accept."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from smallagent.planner import looks_multi_step
from smallagent.tasks.taskfile import load_task_file
from tests.test_qa_bench import made_up, paragraph

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

from qabench import multistep, questions  # noqa: E402
from qabench.multistep import Corpus  # noqa: E402

PAGES = [
    "Contents and preface.",
    "Vectors hold numbers. The data.frame class is described later. Matrices too.",
    "Polynomials are fitted with lm(). See polynomials again on page seven.",
    "Nothing here but arrays and matrices; Dobson.",
    "Fitting polynomials needs care with subarrays.",
    "A data.frame holds columns; polynomials are not mentioned here as data.frame.",
    "Quantiles are computed by quantile(x) and the word quantiles is used here. Factors.",
    "Quantiles again, and the Dobson example.",
    "Dobson wrote about quantiles and arrays too.",
    "The end of the manual, Dobson. Factors again.",
]


def wiki_data() -> dict[str, Any]:
    counter = iter(range(1000))
    articles = []
    for number in range(8):
        paragraphs = []
        for _ in range(3):
            text, qas = paragraph(next(counter))
            paragraphs.append({"context": text, "qas": qas})
        articles.append({"title": f"Article_{made_up(500 + number)}", "paragraphs": paragraphs})
    return {"data": articles}


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[questions.Item]]:
    root = tmp_path_factory.mktemp("corpus")
    articles = questions.items_of("new_wiki", wiki_data())
    for item in articles:
        (root / item.path).parent.mkdir(parents=True, exist_ok=True)
        (root / item.path).write_text(item.text)
    for folder, name in (("reviews", "review-{n}-1.txt"), ("reddit", "post-{n:04d}.txt")):
        (root / folder).mkdir()
        for n in range(12):
            text, _ = paragraph(100 + n + (0 if folder == "reviews" else 50))
            (root / folder / name.format(n=n)).write_text(text + " It rained." * (n * 3) + "\n")
    return root, articles


def build(built: tuple[Path, list[questions.Item]]) -> dict[str, list[multistep.MultiTask]]:
    root, articles = built
    return multistep.build_tasks(root, PAGES, "manuals/m.pdf", "The Manual", articles, count=2)


def wc(option: str, path: Path) -> int:
    output = subprocess.run(["wc", option, str(path)], capture_output=True, text=True, check=True)
    return int(output.stdout.split()[0])


def test_phrases_are_five_plain_words_found_in_one_file_only(tmp_path: Path) -> None:
    assert multistep.phrases_of("A b c d e, f g h i j k.") == ["f g h i j"]
    (tmp_path / "a.txt").write_text("the heron waded slowly through marshes\n")
    (tmp_path / "b.txt").write_text("Heron waded slowly through marshes today\n")
    (tmp_path / "c.txt").write_text("the heron waded slowly through deep marshes\n")
    corpus = Corpus(tmp_path)
    assert corpus.holders("HERON waded slowly through marshes") == ["a.txt", "b.txt"]
    phrase = multistep.unique_phrase(corpus, "c.txt", corpus.texts["c.txt"], "t")
    assert phrase and corpus.holders(phrase) == ["c.txt"]
    assert multistep.unique_phrase(corpus, "a.txt", corpus.texts["a.txt"], "t") == ""


def test_every_answer_is_what_the_files_say(built: tuple[Path, list[questions.Item]]) -> None:
    root, articles = built
    tasks = [task for split in build(built).values() for task in split]
    assert {task.shape for task in tasks} == set(multistep.SHAPES)
    for task in tasks:
        shown = ", ".join(task.answers) if task.shape == "collect" else task.answers[0]
        assert re.search(task.pattern, f"The answer: {shown}."), task
        quoted = re.findall(r'"([^"]+)"', task.prompt)
        if task.shape == "find_act":
            (document,) = task.documents
            assert Corpus(root).holders(quoted[0]) == [document]
            option = "-l" if "lines" in task.prompt else "-c"
            right = wc(option, root / document)
            assert task.answers == (str(right),)
            assert not re.search(task.pattern, f"It is {right + 1}.")
        elif task.shape == "compare":
            first, second = task.documents
            assert [Corpus(root).holders(phrase) for phrase in quoted] == [[first], [second]]
            longer = max(task.documents, key=lambda name: wc("-c", root / name))
            shorter = min(task.documents, key=lambda name: wc("-c", root / name))
            assert task.answers == (Path(longer).name,)
            assert not re.search(task.pattern, f"{Path(shorter).name} is larger")
        elif task.shape == "chain":
            (document,) = task.documents
            item = next(item for item in articles if item.path == document)
            holder = [n for n, text in enumerate(item.paragraphs) if quoted[0] in text]
            answering = [n for n, text in enumerate(item.paragraphs) if task.answers[-1] in text]
            assert holder and answering and not set(holder) & set(answering)


def test_collect_lists_every_page_that_holds_the_word_and_only_as_a_word(
    built: tuple[Path, list[questions.Item]],
) -> None:
    tasks = multistep.collect_tasks(PAGES, "manuals/m.pdf", "The Manual", count=2)
    found = {task.origin: task.answers for split in tasks.values() for task in split}
    assert found == {
        "pages:polynomials": ("3", "5", "6"),
        "pages:quantiles": ("7", "8", "9"),  # quantile(x) is a call, not the word
        "pages:matrices": ("2", "4"),
        "pages:factors": ("7", "10"),
    }  # not dobson (four pages: no short list), nor arrays (subarrays on page 5)
    pattern = multistep.page_list_pattern([3, 5, 6])
    assert re.search(pattern, "Pages 6, 3 and 5.") and not re.search(pattern, "Pages 3 and 5.")


def test_the_splits_share_no_file_and_the_same_corpus_gives_the_same_tasks(
    built: tuple[Path, list[questions.Item]],
) -> None:
    first, second = build(built), build(built)
    assert first == second
    files = {
        split: {
            document for task in tasks if task.shape != "collect" for document in task.documents
        }
        for split, tasks in first.items()
    }
    assert files["dev"] and files["test"] and not files["dev"] & files["test"]
    ids = [task.id for tasks in first.values() for task in tasks]
    assert len(ids) == len(set(ids)) == 2 * 2 * len(multistep.SHAPES)
    assert questions.fingerprint(first["dev"]) != questions.fingerprint(first["test"])


def test_the_extra_dev_compare_tasks_are_new_and_from_dev_files_only(
    built: tuple[Path, list[questions.Item]],
) -> None:
    root, _ = built
    by_split = build(built)
    # as many as the dev files allow: this small corpus has room for one more pair
    extra = multistep.extra_dev_compare(root, by_split["dev"], count=3)
    assert [task.id for task in extra] == ["dev-extra-compare-01"]
    assert {task.shape for task in extra} == {"compare"}
    assert not {task.prompt for task in extra} & {task.prompt for task in by_split["dev"]}
    test_files = {document for task in by_split["test"] for document in task.documents}
    for task in extra:
        assert not set(task.documents) & test_files
        sizes = {(root / document).stat().st_size: document for document in task.documents}
        longer = Path(sizes[max(sizes)]).name
        assert re.search(task.pattern, f"It is {longer}.")
        assert not re.search(task.pattern, f"Not found; maybe {longer}.")


def test_the_task_files_load_and_the_planner_plans_find_act_and_compare(
    built: tuple[Path, list[questions.Item]], tmp_path: Path
) -> None:
    root, _ = built
    tasks = build(built)["dev"]
    settings = {"workdir": str(root), "tools": ["search", "read_file", "shell"], "max_steps": 6}
    path = tmp_path / "tasks-dev.json"
    path.write_text(json.dumps(questions.task_file(tasks, settings)))
    loaded = load_task_file(path)
    assert [task.id for task in loaded] == [task.id for task in tasks]
    # find-then-act and compare; a question about what a file says (chain) and the pages that
    # hold a word (collect) are one search each, not a plan
    planned_shapes = ("find_act", "compare")
    assert all(looks_multi_step(task.prompt) == (task.shape in planned_shapes) for task in tasks)
    assert [task.shape for task in multistep.sample(tasks, 1)] == list(multistep.SHAPES)


def test_too_small_a_corpus_is_refused_with_the_shape_it_lacks(tmp_path: Path) -> None:
    (tmp_path / "wiki").mkdir()
    (tmp_path / "wiki" / "a.md").write_text("only one small file here\n")
    with pytest.raises(ValueError, match="only 0 find_act tasks"):
        multistep.build_tasks(tmp_path, PAGES, "m.pdf", "M", [], count=2)
