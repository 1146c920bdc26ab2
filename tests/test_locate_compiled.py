"""The compiled locating modules (mypyc, ``hiljade/compiled.py``) pinned to their Python
sources: the same candidates, evidence, outcome and reason for every text, the sources run in a
second process with ``HILJADE_PURE=1``. Also: which build runs, and a stale build never does.
"""

from __future__ import annotations

import importlib.util
import json
import os
import pickle
import random
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from hiljade import compiled
from hiljade.pipeline import normalize
from hiljade.pipeline.gazetteer import Gazetteer
from hiljade.pipeline.locate import locate
from hiljade.pipeline.scripts import to_cyrillic
from tests.support.gazetteer import belgrade_gazetteer, town_gazetteer
from tests.support.located import said
from tests.support.paths import REPO, SHARED_DATA, SHARED_EVAL, SKIP_NO_SHARED

NOT_COMPILED = f"the locating modules run as {compiled.BUILD}: there is no compiled build to compare"

# run by the Python sources, in a process of its own: (gazetteer, texts) on stdin, answers on stdout
BY_SOURCES = """
import pickle, sys
from hiljade import compiled
from hiljade.pipeline.locate import locate
from tests.support.located import said
assert compiled.BUILD.startswith("sources"), compiled.BUILD
gaz, texts = pickle.loads(sys.stdin.buffer.read())
sys.stdout.buffer.write(pickle.dumps([said(locate(text, gaz)) for text in texts]))
"""


def by_sources(gaz: Gazetteer, texts: list[str]) -> list[tuple[Any, ...]]:
    """What the Python sources say of each text (run in another process, ``HILJADE_PURE=1``)."""
    run = subprocess.run(
        [sys.executable, "-c", BY_SOURCES],
        input=pickle.dumps((gaz, texts)),
        capture_output=True,
        env={**os.environ, compiled.PURE_ENV: "1"},
        cwd=REPO,
        check=False,
        timeout=600,
    )
    assert run.returncode == 0, run.stderr.decode(errors="replace")
    return pickle.loads(run.stdout)


def variants(texts: list[str], names: list[str], generated: int) -> list[str]:
    """The texts as written, lower case, upper case, in Cyrillic and with a house number; and texts
    made of the gazetteer's names, declined, misspelt and joined as posts join them."""
    out = list(texts)
    out += [t.lower() for t in texts] + [t.upper() for t in texts] + [to_cyrillic(t) for t in texts]
    out += [t + " br 5" for t in texts]
    rnd = random.Random(13)
    joins = [
        " ",
        " i ",
        " ugao ",
        " kod ",
        " na uglu ",
        ". ",
        " br. 12 ",
        " 5 ",
        ", ",
        " ka ",
        "\n",
        " #kamera ",
    ]
    joins += [" https://x.example/z ", " 17. ", " dvadeset prvog ", " XI ", " živim u ", " 44.81, 20.46 "]
    for _ in range(generated):
        parts = []
        for _ in range(rnd.randint(1, 4)):
            name = rnd.choice(names)
            r = rnd.random()
            if r < 0.1:
                name = name.lower()
            elif r < 0.2:
                name = to_cyrillic(name)
            elif r < 0.3 and len(name) > 7:
                at = rnd.randrange(len(name))
                name = name[:at] + name[at + 1 :]
            elif r < 0.4:
                name += "oj"
            parts += [name, rnd.choice(joins)]
        out.append("Kamera " + "".join(parts) + rnd.choice(["", " 12", " br. 7a", "."]))
    return out


def _names(gaz: Gazetteer) -> list[str]:
    return sorted({e.name for e in gaz.entries if e.name})


@pytest.mark.skipif(compiled.BUILD != "compiled", reason=NOT_COMPILED)
def test_the_compiled_build_locates_a_small_town_as_the_sources_do(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """Without ../shared: texts made of the made-up town's names."""
    town = town_gazetteer(str(tmp_path_factory.getbasetemp() / "town"))
    texts = variants(
        ["Kamera na uglu Dečanske i Makedonske", "Дечанска 8а", "Trg republike"], _names(town), 400
    )
    ours = [said(locate(text, town)) for text in texts]
    assert ours == by_sources(town, texts)
    assert sum(res[2] == "located" for res in ours) > 100


@pytest.mark.skipif(compiled.BUILD != "compiled", reason=NOT_COMPILED)
def test_the_compiled_build_locates_the_dev_texts_as_the_sources_do() -> None:
    path = SHARED_EVAL / "geoparse-dev.jsonl"
    if not path.is_file() or not (SHARED_DATA / "belgrade_geo").is_dir():
        pytest.skip(SKIP_NO_SHARED)
    gaz, _ = belgrade_gazetteer(SHARED_DATA)
    dev = [json.loads(line)["text"] for line in path.read_text(encoding="utf-8").splitlines() if line]
    texts = variants(dev, _names(gaz), 3000)
    ours = [said(locate(text, gaz)) for text in texts]
    assert ours == by_sources(gaz, texts)
    assert sum(res[2] == "located" for res in ours) > len(texts) / 10  # not a comparison of nothing
    assert sum(bool(res[1]) for res in ours) > len(texts) / 5


def test_the_build_that_runs_is_named() -> None:
    assert compiled.BUILD == "compiled" or compiled.BUILD.startswith("sources (")
    assert normalize.__file__.endswith(".py") != (compiled.BUILD == "compiled")


@pytest.mark.skipif(compiled.BUILD != "compiled", reason=NOT_COMPILED)
def test_a_build_of_other_sources_never_runs(tmp_path: Any) -> None:
    """A copy of the installed package runs compiled; once a source is edited after the build, the
    copy runs its Python sources instead, and says so."""
    group = importlib.util.find_spec(compiled.group_name(compiled.digest()) + "__mypyc")
    assert group is not None and group.origin and Path(group.origin).parent == compiled.FOLDER
    shutil.copytree(REPO / "hiljade", tmp_path / "hiljade", ignore=shutil.ignore_patterns("__pycache__"))
    check = "import hiljade.compiled as c, hiljade.pipeline.normalize as n; print(c.BUILD); print(n.__file__)"
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    env.pop(compiled.PURE_ENV, None)

    def run() -> tuple[str, str, str]:
        done = subprocess.run(
            [sys.executable, "-c", check], capture_output=True, text=True, env=env, cwd=tmp_path
        )
        assert done.returncode == 0, done.stderr
        build, module = done.stdout.splitlines()
        return build, module, done.stderr

    build, module, _ = run()
    assert (build, module) == ("compiled", str(tmp_path / "hiljade" / "pipeline" / Path(module).name))
    assert not module.endswith(".py")
    with (tmp_path / "hiljade" / "pipeline" / "scripts.py").open("a", encoding="utf-8") as fh:
        fh.write("\n# an edit after the build\n")
    build, module, warned = run()
    assert build == "sources (the compiled build is of other sources)"
    assert module == str(tmp_path / "hiljade" / "pipeline" / "normalize.py")
    assert "pip install -e ." in warned
