"""Label Studio: the ML backend of ``spert serve --label-studio`` (pre-annotation of a project's
tasks, training rounds from its annotations, model versions), one job per module.

``endpoints`` holds the routes under ``/label-studio`` (the protocol Label Studio calls) and the
web page's ``/ui/training``; ``bodies`` the request bodies; ``auth`` Label Studio's basic auth;
``backend`` the backend's state beside the server's; ``label_config`` the project's labelling
config and the types it shares with the model; ``preannotations`` a task's prediction in Label
Studio's format, capped; ``versions`` the directory of trained versions; ``source`` where a
project's annotations come from (Label Studio's SDK); ``rounds`` the training rounds, each in a
child process running ``finetune`` (import, split, fine-tune, score), with which it shares only
the records of ``jobs``; and ``mount`` the server's application with the backend on it.
Reading and writing Label Studio's task format is ``spert.data.formats.labelstudio``'s.
"""
