"""A deterministic synthetic "sample city" around central Beijing, for the demo and the tests.

Everything here is **fictional**: the names, the codes (district codes 110191, 110192, … are not
real Beijing districts), the boundaries, the populations, the incidents and the inventories.
The sample exists so that the demo, the integration tests and the benchmarks have data of
realistic shape and size; it is not a model of any real place.

The package returns frames and dicts and writes nothing; :mod:`api.sample_files` writes the
files (``pingan sample``). One module per concern:

- :mod:`geo.sample.boundaries`: the communities, a planar partition with realistic boundaries;
- :mod:`geo.sample.population`: population by year and each community's latent quality;
- :mod:`geo.sample.inventories`: compounds with their measures, and devices;
- :mod:`geo.sample.facilities`: facilities by type, with planted coverage gaps;
- :mod:`geo.sample.incidents`: two years of incidents with planted trends and hot spots;
- :mod:`geo.sample.city`: the whole city from one seed (:func:`generate_city`);
- :mod:`geo.sample.manifest`: what goes into each file, and the manifest;
- :mod:`geo.sample.draws` and :mod:`geo.sample.frames`: random streams and canonical frames.

The other layers follow a latent "quality" score per community that drives camera density,
compound compliance, facility presence and case rates, so that a safe-community standard finds
communities that meet it, some that partly do, and some that fail. :attr:`SampleCity.truth`
records what was planted (trends, hot spots, facility gaps) so tests can check that analyses
find it.

Everything is deterministic from ``seed``: numpy Generators seeded by ``(seed, stream)`` per
layer, no dependence on dict or set ordering; the files are written with fixed formatting.
"""

from geo.sample.boundaries import generate_boundaries
from geo.sample.city import SampleCity, generate_city
from geo.sample.draws import DEFAULT_SEED

__all__ = ["DEFAULT_SEED", "SampleCity", "generate_boundaries", "generate_city"]
