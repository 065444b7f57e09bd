from __future__ import annotations

import numpy as np
import pandas as pd

from automl.data.schema import normalize_frame


def test_normalize_frame() -> None:
    from datetime import date
    from decimal import Decimal

    frame = pd.DataFrame(
        {
            "inf": [1.0, np.inf, -np.inf],
            "dec": [Decimal("1.5"), None, Decimal("2")],
            "blob": [b"\x00\x01", b"\xff", None],
            "mixed": [1, "a", None],
            "ok": ["a", "b", None],
            "day": [date(2024, 1, 2), None, date(2024, 3, 4)],
        }
    )
    clean, notes = normalize_frame(frame)
    assert clean["inf"].isna().tolist() == [False, True, True]
    assert clean["dec"].dtype == float
    assert "blob" not in clean.columns
    assert clean["mixed"].tolist()[:2] == ["1", "a"]
    assert len(notes) == 3
    assert str(clean["day"].dtype).startswith("datetime64")
    clean.to_parquet(pd.io.common.BytesIO())
