from setuptools import setup

# Metadata lives in setup.cfg; setup.py stays for `pip install -e` on old pips.
setup()
