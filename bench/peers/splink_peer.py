"""Splink (a well-known open-source Fellegi-Sunter linker, on DuckDB) on the data sets
`make bench-peers` measures Yibiao on. Prints one JSON line per data set: pairwise precision,
recall and F1 of Splink's clusters against the truth, and the seconds it took.

FEBRL is given to Splink as its own columns (first name, surname, street number, address,
suburb, postcode, state, date of birth, social security id), the way Splink's examples link it:
the peer at its best, not handicapped by the joined columns Yibiao's adapters read. The
synthetic district is given as the normalised rows Yibiao's adapters produce
(`YibiaoBench quality --export`), since Splink has no readers for its feeds.

Usage: splink_peer.py febrl1|febrl2|febrl3|febrl4|synthetic PATH...
"""

import json
import sys
import time
from collections import Counter, defaultdict

import pandas as pd
import splink.comparison_library as cl
from splink import DuckDBAPI, Linker, SettingsCreator, block_on


def pairwise_quality(clusters, truth):
    """Pairwise precision, recall and F1 of `clusters` (record id -> cluster) against `truth`."""
    predicted = Counter(clusters.values())
    predicted_pairs = sum(n * (n - 1) // 2 for n in predicted.values())
    together = Counter((clusters[r], truth[r]) for r in truth)
    correct = sum(n * (n - 1) // 2 for n in together.values())
    true_pairs = sum(n * (n - 1) // 2 for n in Counter(truth.values()).values())
    precision = correct / predicted_pairs if predicted_pairs else 1.0
    recall = correct / true_pairs if true_pairs else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def febrl_frame(path):
    frame = pd.read_csv(path, dtype=str, skipinitialspace=True).fillna("")
    frame = frame.rename(columns=lambda c: c.strip())
    frame["unique_id"] = frame["rec_id"].str.strip()
    frame["person"] = frame["unique_id"].str.split("-").str[1]
    for column in frame.columns:
        frame[column] = frame[column].str.strip().replace("", None)
    frame["date_of_birth"] = frame["date_of_birth"].where(frame["date_of_birth"].str.len() == 8)
    return frame


def febrl_settings(link_type):
    return SettingsCreator(
        link_type=link_type,
        unique_id_column_name="unique_id",
        blocking_rules_to_generate_predictions=[
            block_on("given_name", "surname"),
            block_on("surname", "date_of_birth"),
            block_on("given_name", "date_of_birth"),
            block_on("postcode", "given_name"),
            block_on("postcode", "surname"),
            block_on("soc_sec_id"),
            block_on("street_number", "address_1"),
            block_on("date_of_birth", "suburb"),
        ],
        comparisons=[
            cl.NameComparison("given_name"),
            cl.NameComparison("surname"),
            cl.DamerauLevenshteinAtThresholds("date_of_birth", [1, 2]),
            cl.DamerauLevenshteinAtThresholds("soc_sec_id", [1, 2]),
            cl.ExactMatch("street_number").configure(term_frequency_adjustments=True),
            cl.JaroWinklerAtThresholds("address_1", [0.9, 0.7]),
            cl.JaroWinklerAtThresholds("suburb", [0.9, 0.7]),
            cl.DamerauLevenshteinAtThresholds("postcode", [1, 2]),
            cl.ExactMatch("state"),
        ],
        retain_intermediate_calculation_columns=False,
    )


def synthetic_settings():
    return SettingsCreator(
        link_type="dedupe_only",
        unique_id_column_name="unique_id",
        blocking_rules_to_generate_predictions=[
            block_on("national_id"),
            block_on("name", "birth_date"),
            block_on("phone"),
            block_on("birth_date", "sex", "division_code"),
        ],
        comparisons=[
            cl.DamerauLevenshteinAtThresholds("national_id", [1, 2]),
            cl.JaroWinklerAtThresholds("name", [0.94, 0.85]).configure(term_frequency_adjustments=True),
            cl.DamerauLevenshteinAtThresholds("birth_date", [1, 2]),
            cl.ExactMatch("sex"),
            cl.ExactMatch("phone").configure(term_frequency_adjustments=True),
            cl.JaccardAtThresholds("address", [0.9, 0.6]),
        ],
        retain_intermediate_calculation_columns=False,
    )


def run(name, frames, settings, deterministic_rules, em_rules):
    started = time.monotonic()
    api = DuckDBAPI()
    tables = [api.register(frame) for frame in frames]
    linker = Linker(tables if len(tables) > 1 else tables[0], settings)
    linker.training.estimate_probability_two_random_records_match(deterministic_rules, recall=0.7)
    linker.training.estimate_u_using_random_sampling(max_pairs=2e6, seed=1)
    for rule in em_rules:
        linker.training.estimate_parameters_using_expectation_maximisation(rule)
    predictions = linker.inference.predict(threshold_match_probability=0.5)
    clusters = linker.clustering.cluster_pairwise_predictions_at_threshold(predictions, 0.99).as_pandas_dataframe()
    elapsed = time.monotonic() - started
    # Records are named by their data set in a link job: the same key may be in both files.
    key = (lambda row: (row.get("source_dataset"), row["unique_id"])) if len(frames) > 1 else (lambda row: row["unique_id"])
    cluster_of = {key(row): row["cluster_id"] for row in clusters.to_dict("records")}
    truth = {}
    for index, frame in enumerate(frames):
        dataset = tables[index].physical_name if len(frames) > 1 else None
        for row in frame.to_dict("records"):
            truth[(dataset, row["unique_id"]) if len(frames) > 1 else row["unique_id"]] = row["person"]
    # Splink names the data sets itself: map its names onto ours by matching the keys.
    if len(frames) > 1:
        by_key = defaultdict(list)
        for dataset, unique_id in cluster_of:
            by_key[unique_id].append(dataset)
        renamed = {}
        for (dataset, unique_id), person in truth.items():
            for candidate in by_key[unique_id]:
                renamed[(candidate, unique_id)] = person
        truth = {k: v for k, v in renamed.items() if k in cluster_of}
    precision, recall, f1 = pairwise_quality(cluster_of, truth)
    return {"data": name, "records": len(truth), "precision": precision, "recall": recall, "f1": f1, "seconds": elapsed}


def main():
    name, paths = sys.argv[1], sys.argv[2:]
    if name in ("febrl1", "febrl2", "febrl3", "febrl4"):
        frames = [febrl_frame(path) for path in paths]
        link_type = "link_only" if len(frames) > 1 else "dedupe_only"
        result = run(
            name.upper(), frames, febrl_settings(link_type),
            [block_on("given_name", "surname", "date_of_birth"), block_on("soc_sec_id")],
            [block_on("date_of_birth"), block_on("given_name", "surname"), block_on("postcode")])
    else:
        frame = pd.read_csv(paths[0], dtype=str).fillna("")
        for column in frame.columns:
            frame[column] = frame[column].replace("", None)
        result = run(
            "synthetic district", [frame], synthetic_settings(),
            [block_on("national_id"), block_on("name", "birth_date", "phone")],
            [block_on("birth_date"), block_on("name")])
    print(json.dumps(result))


if __name__ == "__main__":
    main()
