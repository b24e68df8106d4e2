-- Link and review explanations in a third of the space (issue "A district in seconds…"): the
-- comparisons as one text, `name:level:weight` in the matcher's order (`id:0:0 name:1:12.989
-- …`), instead of an object per comparison; weights to three decimals (they are shown to one).
-- `MatchExplanation` writes this form and reads both. Rows already in the compact form, and
-- the `{}` of a record alone, are left as they are.
UPDATE link SET explanation = explanation
    || jsonb_build_object('weight', trim_scale(round((explanation ->> 'weight')::numeric, 3)))
    || jsonb_build_object('comparisons', (
        SELECT string_agg(c.key || ':' || (c.value ->> 'level') || ':'
                              || CASE WHEN round((c.value ->> 'weight')::numeric, 3) = 0 THEN '0'
                                      ELSE trim_scale(round((c.value ->> 'weight')::numeric, 3))::text END,
                          ' ' ORDER BY coalesce(array_position(ARRAY['id', 'name', 'birth', 'sex', 'phone', 'address'], c.key), 99), c.key)
        FROM jsonb_each(explanation -> 'comparisons') c))
WHERE jsonb_typeof(explanation -> 'comparisons') = 'object';

UPDATE review_item SET explanation = explanation
    || jsonb_build_object('weight', trim_scale(round((explanation ->> 'weight')::numeric, 3)))
    || jsonb_build_object('comparisons', (
        SELECT string_agg(c.key || ':' || (c.value ->> 'level') || ':'
                              || CASE WHEN round((c.value ->> 'weight')::numeric, 3) = 0 THEN '0'
                                      ELSE trim_scale(round((c.value ->> 'weight')::numeric, 3))::text END,
                          ' ' ORDER BY coalesce(array_position(ARRAY['id', 'name', 'birth', 'sex', 'phone', 'address'], c.key), 99), c.key)
        FROM jsonb_each(explanation -> 'comparisons') c))
WHERE jsonb_typeof(explanation -> 'comparisons') = 'object';
