"""Local simulators of ORCID, DataCite, Crossref and doi.org, with fault injection.

``from worker.sandbox.server import Sandbox``; see README.md beside this file.
"""
