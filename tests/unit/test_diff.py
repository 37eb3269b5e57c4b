import copy
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from kubedirector.desired.diff import semantic_diff


def test_identical_objects_have_no_difference():
    obj = {"spec": {"replicas": 2, "template": {"spec": {"containers": [{"name": "app"}]}}}}
    assert semantic_diff(obj, copy.deepcopy(obj)) == []


def test_server_defaulted_fields_are_ignored():
    desired = {"spec": {"type": "NodePort", "ports": [{"port": 22, "name": "generic-ssh"}]}}
    actual = {
        "spec": {
            "type": "NodePort",
            "clusterIP": "10.0.0.7",
            "sessionAffinity": "None",
            "ports": [{"port": 22, "name": "generic-ssh", "nodePort": 31000, "protocol": "TCP"}],
        },
        "status": {"loadBalancer": {}},
    }
    assert semantic_diff(desired, actual) == []


def test_empty_desired_values_match_absent_ones():
    desired = {"c": {"stdin": False, "env": [], "args": None, "labels": {}, "name": ""}}
    assert semantic_diff(desired, {"c": {}}) == []
    assert semantic_diff({"volumes": []}, {}) == []


def test_quantities_compare_by_value():
    desired = {
        "resources": {"requests": {"cpu": "0.5", "memory": "1Gi"}, "limits": {"cpu": "2"}},
        "emptyDir": {"sizeLimit": "1Gi"},
    }
    actual = {
        "resources": {"requests": {"cpu": "500m", "memory": "1073741824"}, "limits": {"cpu": 2}},
        "emptyDir": {"sizeLimit": "1024Mi"},
    }
    assert semantic_diff(desired, actual) == []


def test_quantity_changes_are_found():
    desired = {"resources": {"requests": {"cpu": "1"}}}
    actual = {"resources": {"requests": {"cpu": "999m"}}}
    assert semantic_diff(desired, actual) == ["resources.requests.cpu"]


def test_quantity_semantics_only_where_quantities_live():
    assert semantic_diff({"labels": {"size": "1e3"}}, {"labels": {"size": "1000"}}) == [
        "labels.size"
    ]


def test_changed_and_missing_fields_are_reported_with_paths():
    desired = {
        "spec": {
            "template": {
                "spec": {
                    "containers": [
                        {"name": "app", "image": "new", "env": [{"name": "A", "value": "1"}]}
                    ]
                }
            }
        }
    }
    actual = {"spec": {"template": {"spec": {"containers": [{"name": "app", "image": "old"}]}}}}
    assert semantic_diff(desired, actual) == [
        "spec.template.spec.containers[0].image",
        "spec.template.spec.containers[0].env",
    ]


def test_list_length_difference_is_one_path():
    assert semantic_diff({"ports": [{"port": 1}]}, {"ports": [{"port": 1}, {"port": 2}]}) == [
        "ports"
    ]


def test_type_mismatch():
    assert semantic_diff({"a": {"b": 1}}, {"a": "x"}) == ["a"]
    assert semantic_diff({"a": [1]}, {"a": {"0": 1}}) == ["a"]
    assert semantic_diff({"a": 1}, None) == ["."]


def test_desired_none_matches_absent():
    assert semantic_diff({"affinity": None}, {}) == []
    assert semantic_diff({"affinity": None}, {"affinity": {"nodeAffinity": {}}}) == ["affinity"]


json_scalars = st.one_of(st.booleans(), st.integers(), st.text(max_size=5))
json_values = st.recursive(
    json_scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=3),
        st.dictionaries(st.text(max_size=5), children, max_size=3),
    ),
    max_leaves=15,
)


@given(json_values)
def test_any_object_is_a_subset_of_itself(value: Any):
    assert semantic_diff(value, copy.deepcopy(value)) == []


@given(
    st.dictionaries(st.text(max_size=5), json_values, max_size=4),
    st.dictionaries(st.text(max_size=5), json_values, max_size=4),
)
def test_extra_actual_fields_never_matter(desired: dict[str, Any], extra: dict[str, Any]):
    actual = extra | copy.deepcopy(desired)
    assert semantic_diff(desired, actual) == []


@given(st.dictionaries(st.text(min_size=1, max_size=5), st.integers(), min_size=1, max_size=4))
def test_any_changed_value_is_reported(desired: dict[str, int]):
    key = sorted(desired)[0]
    actual = desired | {key: desired[key] + 1}
    assert semantic_diff({"spec": desired}, {"spec": actual}) == [f"spec.{key}"]
