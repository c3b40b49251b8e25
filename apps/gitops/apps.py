from django.apps import AppConfig


class GitopsConfig(AppConfig):
    """Git provider interface and its pygit2 implementation (workspace clones, diffs, commits)."""

    name = "apps.gitops"
