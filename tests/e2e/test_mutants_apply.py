"""Every curated mutant in tools/mutants.txt still applies to the tree: its
text to change occurs exactly once in its file.  Source edits silently
outdated three mutants before this test (a mutant that no longer applies
stops tools/mutants.py and measures nothing)."""
import importlib.util
import os

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def load_mutants_module():
    spec = importlib.util.spec_from_file_location("mutants", os.path.join(ROOT, "tools", "mutants.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_every_mutant_applies_once():
    mutants = load_mutants_module().MUTANTS
    assert len(mutants) >= 20
    stale = []
    for m in mutants:
        text = open(os.path.join(ROOT, m["file"])).read()
        for find, repl in m["edits"]:
            if text.count(find) != 1 or repl is None or repl == find:
                stale.append(f"{m['id']}: occurs {text.count(find)} times in {m['file']}")
            else:
                text = text.replace(find, repl)
    assert stale == []
