from django.db import migrations, models

from apps.chat.uistream import searchable_text

BATCH = 500


def search_text_fill(apps, schema_editor):
    """The messages stored before search get their words too."""
    Message = apps.get_model("chat", "Message")
    pending = Message.objects.filter(search_text="").order_by("pk")
    last = None
    while True:
        batch = list((pending.filter(pk__gt=last) if last else pending).only("parts")[:BATCH])
        if not batch:
            return
        for message in batch:
            message.search_text = searchable_text(message.parts)
        Message.objects.bulk_update(batch, ["search_text"])
        last = batch[-1].pk


class Migration(migrations.Migration):
    dependencies = [
        ("chat", "0006_turn_caller_tokens"),
    ]

    operations = [
        migrations.AddField(
            model_name="message",
            name="search_text",
            field=models.TextField(blank=True, default=""),
        ),
        migrations.RunPython(search_text_fill, migrations.RunPython.noop, elidable=True),
    ]
