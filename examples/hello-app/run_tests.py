"""Runs the unit tests and writes their results as JUnit XML; exits non-zero if any failed.

Usage: python run_tests.py [--junit PATH]   (default PATH: reports/junit.xml)
"""

import argparse
import pathlib
import sys
import time
import unittest
import xml.etree.ElementTree as ET


class RecordingResult(unittest.TextTestResult):
    """A text result that also remembers each test's outcome and duration for the report."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.records = []
        self._started = 0.0

    def startTest(self, test):  # noqa: N802 (unittest's name)
        self._started = time.monotonic()
        super().startTest(test)

    def _record(self, test, outcome=None, detail=""):
        self.records.append((test, time.monotonic() - self._started, outcome, detail))

    def addSuccess(self, test):  # noqa: N802
        super().addSuccess(test)
        self._record(test)

    def addFailure(self, test, err):  # noqa: N802
        super().addFailure(test, err)
        self._record(test, "failure", self._exc_info_to_string(err, test))

    def addError(self, test, err):  # noqa: N802
        super().addError(test, err)
        self._record(test, "error", self._exc_info_to_string(err, test))

    def addSkip(self, test, reason):  # noqa: N802
        super().addSkip(test, reason)
        self._record(test, "skipped", reason)


def junit_xml(records, suite_name="hello-app"):
    suite = ET.Element("testsuite", name=suite_name, tests=str(len(records)))
    counts = {"failure": 0, "error": 0, "skipped": 0}
    for test, seconds, outcome, detail in records:
        case = ET.SubElement(
            suite,
            "testcase",
            classname=f"{type(test).__module__}.{type(test).__name__}",
            name=test._testMethodName,
            time=f"{seconds:.3f}",
        )
        if outcome:
            counts[outcome] += 1
            element = ET.SubElement(case, outcome, message=detail.strip().splitlines()[-1] if detail.strip() else "")
            element.text = detail
    suite.set("failures", str(counts["failure"]))
    suite.set("errors", str(counts["error"]))
    suite.set("skipped", str(counts["skipped"]))
    suite.set("time", f"{sum(r[1] for r in records):.3f}")
    return ET.ElementTree(suite)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--junit", default="reports/junit.xml", help="where to write the JUnit XML report")
    args = parser.parse_args(argv)

    here = pathlib.Path(__file__).resolve().parent
    suite = unittest.defaultTestLoader.discover(str(here), pattern="test_*.py", top_level_dir=str(here))
    result = unittest.TextTestRunner(resultclass=RecordingResult, verbosity=2).run(suite)

    report = pathlib.Path(args.junit)
    report.parent.mkdir(parents=True, exist_ok=True)
    junit_xml(result.records).write(report, encoding="utf-8", xml_declaration=True)
    print(f"JUnit report written to {report}")
    return 0 if result.wasSuccessful() else 1


if __name__ == "__main__":
    sys.exit(main())
