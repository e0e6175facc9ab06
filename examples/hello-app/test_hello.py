"""Unit tests of hello.py; run by run_tests.py (and so by the Dockerfile's `test` stage)."""

import os
import pathlib
import unittest

import hello

# Creating this file (or setting FAIL_TESTS=1) makes the suite fail on purpose: it is how the
# demo shows a build whose tests fail, so nothing gets pushed or deployed.
FAIL_SWITCH = pathlib.Path(__file__).with_name("FAIL_TESTS")


class GreetingTest(unittest.TestCase):
    def test_greets_the_visitor_by_name(self):
        self.assertEqual(hello.greeting("Ada", "dev"), "Hello, Ada, from dev!")

    def test_blank_name_greets_the_world(self):
        self.assertEqual(hello.greeting("  ", "prod"), "Hello, world, from prod!")

    def test_missing_environment_is_named_as_such(self):
        self.assertIn("an unnamed environment", hello.greeting("Ada", ""))


class RespondTest(unittest.TestCase):
    def test_health_is_ok(self):
        self.assertEqual(hello.respond("/health", "dev"), (200, {"status": "ok"}))

    def test_root_reads_the_name_parameter(self):
        status, body = hello.respond("/?name=Grace", "dev")
        self.assertEqual(status, 200)
        self.assertEqual(body["message"], "Hello, Grace, from dev!")

    def test_unknown_path_is_404_and_names_the_valid_paths(self):
        status, body = hello.respond("/nope", "dev")
        self.assertEqual(status, 404)
        self.assertIn("/health", body["error"])


class FailOnDemandTest(unittest.TestCase):
    def test_fail_switch_is_off(self):
        if FAIL_SWITCH.exists() or os.environ.get("FAIL_TESTS") == "1":
            self.fail(f"failing on purpose: delete {FAIL_SWITCH.name} and unset FAIL_TESTS to make the tests pass")

if __name__ == "__main__":
    unittest.main()
