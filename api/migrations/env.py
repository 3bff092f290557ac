"""Alembic environment: runs on the engine pingan passes in ``config.attributes``."""

from alembic import context
from geoalchemy2 import alembic_helpers

from api.models import metadata

config = context.config
engine = config.attributes["engine"]


def include_object(obj, name, type_, reflected, compare_to):
    """Leave out SpatiaLite's own tables and what geoalchemy2 manages itself."""
    if type_ == "table" and reflected and compare_to is None:
        return False
    return alembic_helpers.include_object(obj, name, type_, reflected, compare_to)


with engine.begin() as connection:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        include_object=include_object,
        process_revision_directives=alembic_helpers.writer,
        render_item=alembic_helpers.render_item,
        transactional_ddl=True,
    )
    context.run_migrations()
