// The periodic task form: shows the chosen crontab in words under its field (django-celery-beat's
// inline script, moved here for the Content-Security-Policy).
"use strict";
{
    const $ = django.jQuery;
    const readableCrontabs = JSON.parse(document.getElementById("readable-crontabs").textContent);
    const help = $(".field-crontab .help");
    const originalHelp = help.html();

    $(".field-crontab_translation").hide();
    $(".field-crontab").change(function () {
        const words = readableCrontabs[$("#id_crontab").val()];
        help.html(originalHelp).append("<br>", document.createTextNode(`Translation: ${words}`));
    });
}
