"""FaceSet: every image needs an identity."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from fairvision.data import FaceSet
from fairvision.errors import DatasetError


@pytest.mark.parametrize(
    "identities",
    [["a", None, "b"], ["a", "", "b"], ["a", "   ", "b"], [1.0, np.nan, 2.0], pd.Series(["a", pd.NA, "b"], dtype="string")],
)
def test_missing_identity_is_an_error(identities):
    frame = pd.DataFrame({"path": ["/x/0.png", "/x/1.png", "/x/2.png"], "identity": identities})
    with pytest.raises(DatasetError, match=r"face set 'faces': image /x/1.png \(row 1\) has no identity \(1 image"):
        FaceSet(frame)


@pytest.mark.parametrize("identities", [["a", "a", "b"], [1, 1, 2], ["NA", "None", "0"]])
def test_identities_present(identities):
    faces = FaceSet(pd.DataFrame({"path": ["/x/0.png", "/x/1.png", "/x/2.png"], "identity": identities}))
    assert len(faces) == 3 and len(faces.subset([0, 2])) == 2


def test_object_column_of_numbers():
    ids = pd.Series([1, 2, 3], dtype=object)
    assert len(FaceSet(pd.DataFrame({"path": ["/a", "/b", "/c"], "identity": ids}))) == 3
    with pytest.raises(DatasetError, match="row 2"):
        FaceSet(pd.DataFrame({"path": ["/a", "/b", "/c"], "identity": pd.Series([1, 2, None], dtype=object)}))
