from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("books", "0001_initial")]
    operations = [migrations.AddField(model_name="line", name="memo", field=models.CharField(blank=True, max_length=200, null=True))]
