import pytest
from hypothesis import given
from hypothesis import strategies as st

from kubedirector.api.k8snames import dns1035_label_error, dns1123_subdomain_error
from kubedirector.desired import naming


def fixed(chars: str = "zbg4d") -> naming.RandomSource:
    return lambda n: (chars * n)[:n]


def valid_service_name(name: str) -> bool:
    return dns1035_label_error(name) is None


@pytest.mark.parametrize(
    ("cluster", "role", "expected"),
    [
        ("spark221e2", "controller", "spark221e2-controller-zbg4d"),
        ("training-environment", "RESTServer", "training-environment-restserver-zbg4d"),
        ("centos7", "vanilla_centos", "centos7-vanilla-centos-zbg4d"),
        ("ubuntu18.04", "vanilla_ubuntu", "ubuntu18-04-vanilla-ubuntu-zbg4d"),
        ("Upper.Case_Name", "LoadBalancer", "upper-case-name-loadbalancer-zbg4d"),
    ],
)
def test_crnamerole_statefulset_names(cluster, role, expected):
    assert naming.statefulset_name("CrNameRole", cluster, role, fixed()) == expected


def test_uid_scheme_names():
    rand = fixed("k7q2x")
    ss = naming.statefulset_name("UID", "spark", "worker", rand)
    assert ss == "kdss-k7q2x"
    assert naming.headless_service_name("UID", "spark", rand) == "kdhs-k7q2x"
    assert naming.pod_name(ss, 3) == "kdss-k7q2x-3"
    assert naming.member_service_name("UID", ss, 3) == "s-kdss-k7q2x-3"


def test_crnamerole_member_service_is_the_pod_name():
    ss = naming.statefulset_name("CrNameRole", "spark221e2", "worker", fixed("4gzbz"))
    assert naming.pod_name(ss, 1) == "spark221e2-worker-4gzbz-1"
    assert naming.member_service_name("CrNameRole", ss, 1) == "spark221e2-worker-4gzbz-1"


def test_headless_service_from_cluster_name():
    assert naming.headless_service_name("CrNameRole", "ubuntu18.04", fixed()) == (
        "ubuntu18-04-zbg4d"
    )


def test_pvc_names_follow_the_statefulset_controller():
    assert naming.PVC_TEMPLATE == "p"
    assert naming.pvc_name("spark-controller-zbg4d-0") == "p-spark-controller-zbg4d-0"


def test_long_names_keep_both_parts_and_fit():
    ss = naming.statefulset_name("CrNameRole", "c" * 200, "r" * 100, fixed())
    assert len(ss) == naming.STATEFULSET_MAX
    assert "c" in ss
    assert "-rrr" in ss
    short_role = naming.statefulset_name("CrNameRole", "c" * 200, "worker", fixed())
    assert "-worker-" in short_role


def test_names_that_start_with_a_digit_become_service_names():
    ss = naming.statefulset_name("CrNameRole", "1cluster", "2role", fixed())
    assert valid_service_name(naming.member_service_name("CrNameRole", ss, 0))


def test_production_random_source():
    chars = naming.random_chars(50)
    assert len(chars) == 50
    assert set(chars) <= set(naming.RANDOM_ALPHABET)


@given(st.text(max_size=300), st.text(max_size=100), st.integers(min_value=0, max_value=999))
def test_derived_names_are_always_valid(cluster, role, ordinal):
    for scheme in ("CrNameRole", "UID"):
        ss = naming.statefulset_name(scheme, cluster, role, fixed())
        assert len(ss) <= naming.STATEFULSET_MAX
        assert dns1123_subdomain_error(ss) is None
        assert valid_service_name(naming.pod_name(ss, ordinal))
        assert valid_service_name(naming.member_service_name(scheme, ss, ordinal))
        assert valid_service_name(naming.pvc_name(naming.pod_name(ss, ordinal)))
        assert valid_service_name(naming.headless_service_name(scheme, cluster, fixed()))


@given(st.text(max_size=200), st.integers(min_value=1, max_value=63))
def test_dns_label_is_valid_and_bounded(text, limit):
    label = naming.dns_label(text, limit)
    assert len(label) <= limit
    assert valid_service_name(label)
