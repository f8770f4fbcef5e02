"""One search over the registries: Crossref REST ``/works`` and DataCite ``/dois``.

Public interface (``pidsync search`` and the duplicate guard use it):

- :class:`SearchQuery` (:mod:`.query`): free text (passed as is: Crossref ``query``, DataCite's
  Elasticsearch query string), ``title``, ``author``, ``year``, ``type`` (a pidsync Work type).
- :class:`SearchHit` (:mod:`.hits`): the normalised result shape, the same for both registries.
- :class:`RegistrySearch` (:mod:`.service`): both registries in parallel, answers merged by
  rank and de-duplicated by DOI (:mod:`.merge`). :meth:`RegistrySearch.search` gives the top
  ``rows`` by relevance; :meth:`RegistrySearch.stream` walks every result with cursors on both
  sides (:mod:`.registries`). A registry that fails (down, 5xx, 429 beyond patience, refused
  query) leaves a partial answer and a warning naming it; only when every registry fails is
  :class:`SearchFailed` (:mod:`.failures`) raised.

The HTTP clients underneath are :mod:`worker.pids.client`'s.
"""

from worker.pids.search.failures import SearchFailed, describe_failure
from worker.pids.search.hits import SearchHit
from worker.pids.search.merge import SearchRun
from worker.pids.search.query import SearchQuery
from worker.pids.search.registries import CrossrefRegistry, DataCiteRegistry, Page, Registry
from worker.pids.search.service import REGISTRIES, RegistrySearch, SearchAnswer

__all__ = [
    "REGISTRIES",
    "CrossrefRegistry",
    "DataCiteRegistry",
    "Page",
    "Registry",
    "RegistrySearch",
    "SearchAnswer",
    "SearchFailed",
    "SearchHit",
    "SearchQuery",
    "SearchRun",
    "describe_failure",
]
