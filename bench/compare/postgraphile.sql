-- What both PostGraphile versions are pointed at: the same tables the product reads, through
-- views in their own schema that expose only what an anonymous caller of ours sees (current
-- approved values, from `current_values`), with smart comments giving the views keys and
-- relations. `submissions` is a plain table for the single-value write (a raw insert).
DROP SCHEMA IF EXISTS pgl CASCADE;
CREATE SCHEMA pgl;

CREATE VIEW pgl.measures AS
  SELECT id, slug, name, description, unit, polarity, period_type, position FROM public.measures;
COMMENT ON VIEW pgl.measures IS E'@primaryKey id\n@unique slug';

CREATE VIEW pgl.geographies AS
  SELECT id, code, name, level, parent_id FROM public.geographies;
COMMENT ON VIEW pgl.geographies IS E'@primaryKey id\n@unique code';

CREATE VIEW pgl.observations AS
  SELECT cv.observation_id AS id, cv.measure_id, cv.geography_id, g.level, cv.period, cv.period_end,
         cv.value, cv.numerator, cv.denominator, cv.lower_ci, cv.upper_ci
  FROM public.current_values cv JOIN public.geographies g ON g.id = cv.geography_id;
COMMENT ON VIEW pgl.observations IS E'@primaryKey id\n@foreignKey (measure_id) references pgl.measures (id)\n@foreignKey (geography_id) references pgl.geographies (id)';

CREATE TABLE pgl.submissions (
  id bigserial PRIMARY KEY,
  measure_id bigint NOT NULL,
  geography_id bigint NOT NULL,
  period text NOT NULL,
  value double precision NOT NULL,
  submitted_at timestamptz NOT NULL DEFAULT now()
);

-- The order PostGraphile pages a measure's values in (by id) has an index: the product's own
-- (`ix_current_values_by_measure`, from its migrations), which ours pages by as well.
CREATE INDEX IF NOT EXISTS ix_current_values_by_measure ON public.current_values (measure_id, observation_id);
