"""Files the operator installs into members (read as data, never imported by it).

`configcli/` is the guest tool setup packages call (`configcli`, `bdvcli`,
`bd_vcli`, `ccli`, `configmacro`) and the Python module they import; it runs
on the member's own interpreter (Python 2.7 or 3.6+), so it uses only the
standard library and no syntax newer than both.  `install_configcli.py`
installs it, run by that same interpreter (setup/configcli_install.py).
"""
