-- Refused by schemas/embed_sql.py: the quoted schema name would be spliced
-- into the dollar quote, where a name holding $do$ could end it.
DO $do$
BEGIN
    PERFORM 1 FROM :"schema".offsets;
END
$do$;
