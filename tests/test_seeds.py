"""Every seeded text fits its column: SQLite would store a longer one, PostgreSQL refuses the migration."""

from __future__ import annotations

import pytest
from django.db import models

from sync import seeds
from sync.models import FeatureFlag, FieldMapping, OrderStatusMapping, SyncSetting, Threshold

# The seed lists and the model columns their tuples fill, in order.
SHAPES: dict[type[models.Model], tuple[str, ...]] = {
    FeatureFlag: ("key", "enabled", "description"),
    Threshold: ("key", "value", "unit", "description", "min_value", "max_value"),
    SyncSetting: ("key", "value", "choices", "description"),
    FieldMapping: ("sf_object", "sf_field", "source_path", "transform", "feature_flag"),
    OrderStatusMapping: ("bc_status_id", "bc_status_name", "sf_status", "counts_toward_analytics"),
}
SEED_LISTS = {
    name: value
    for name, value in vars(seeds).items()
    if name.isupper() and isinstance(value, list) and value and isinstance(value[0], tuple)
}


def _model_of(name: str, row: tuple) -> type[models.Model]:
    if "FLAG" in name:
        return FeatureFlag
    if "THRESHOLD" in name:
        return Threshold
    if "SETTING" in name:
        return SyncSetting
    if "MAPPING" in name:
        return FieldMapping
    if name == "ORDER_STATUSES":
        return OrderStatusMapping
    raise AssertionError(f"{name}: which model does it seed? (add it to this test)")


def test_the_seed_lists_are_found():
    assert {"FEATURE_FLAGS", "THRESHOLDS", "SETTINGS", "FIELD_MAPPINGS", "WRITEBACK_SETTINGS"} <= set(SEED_LISTS)


@pytest.mark.parametrize("name", sorted(SEED_LISTS))
def test_every_seeded_text_fits_its_column(name):
    too_long = []
    for row in SEED_LISTS[name]:
        model = _model_of(name, row)
        for column, value in zip(SHAPES[model], row, strict=False):
            limit = model._meta.get_field(column).max_length
            if isinstance(value, str) and limit is not None and len(value) > limit:
                too_long.append((row[0], column, len(value), limit))
    assert too_long == []
