import csv
import io
from importlib import resources

import pytest

from sim_envs import categories as C


def test_thirty_categories_in_paper_order_match_reference():
    # the package's own copy of RoboMamba's Table 2 (evaluation/reference, shipped as package data)
    ref = resources.files("evaluation") / "reference" / "robomamba_table2_manipulation.csv"
    header = next(csv.reader(io.StringIO(ref.read_text())))
    assert header[0] == "method" and header.count("seen_AVG") == 1 and header.count("unseen_AVG") == 1
    cols = [h for h in header[1:] if not h.endswith("_AVG")]
    assert len(C.SEEN) == 20 and len(C.UNSEEN) == 10
    assert tuple(cols) == C.ALL
    assert header.index("seen_AVG") == 1 + len(C.SEEN)  # seen categories first, then the unseen ones


@pytest.mark.parametrize("name,cat,jt", [
    ("StorageFurniture", "StorageFurniture", None),
    ("storage_furniture", "StorageFurniture", None),
    ("TRASH-CAN", "TrashCan", None),
    ("drawer", "StorageFurniture", "prismatic"),
    ("cabinet_door", "StorageFurniture", "revolute"),
    ("Cabinet-Door", "StorageFurniture", "revolute"),
    ("usb", "USB", None),
])
def test_resolve(name, cat, jt):
    t = C.resolve(name)
    assert (t.category, t.joint_type) == (cat, jt)


def test_unknown_category_lists_allowed_names():
    with pytest.raises(C.UnknownCategoryError) as e:
        C.resolve("sofa")
    msg = str(e.value)
    assert "'sofa'" in msg and "drawer" in msg and "StorageFurniture" in msg


def test_selections_and_lists():
    assert [t.category for t in C.resolve_many("all-seen")] == list(C.SEEN)
    assert [t.category for t in C.resolve_many("all-unseen")] == list(C.UNSEEN)
    assert len(C.resolve_many("all")) == 30
    ts = C.resolve_many("drawer, cabinet_door,drawer")
    assert [(t.category, t.joint_type) for t in ts] == [("StorageFurniture", "prismatic"),
                                                        ("StorageFurniture", "revolute")]
    with pytest.raises(C.UnknownCategoryError):
        C.resolve_many(" , ")


def test_instance_split_is_fixed_and_disjoint():
    train, test = C.instance_range("Safe", "train"), C.instance_range("Safe", "test")
    assert len(train) == 80 and len(test) == 20 and not set(train) & set(test)
    assert len(C.instance_range("Faucet", "test")) == 20
    with pytest.raises(ValueError, match="allowed: test"):
        C.instance_range("Faucet", "train")


def test_prompt():
    assert C.prompt_for("StorageFurniture") == \
        "Predict the contact point and orientation for pulling the storage furniture."
    assert C.prompt_for("USB").endswith("the USB.")
