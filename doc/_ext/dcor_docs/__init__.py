"""The docs site's own machinery: reference pages generated from the code
(configuration keys, API actions and auth functions, commands), the
changelog's check against setup.cfg, and the check of the built HTML's
internal links.

Everything here is pure over the code except `sphinx_ext`, the only
module that imports Sphinx: the test suite imports the rest on any CKAN
version, with or without Sphinx installed.
"""
