<#
.SYNOPSIS
  Registers a scheduled task that runs mssp-check every 5 minutes and writes its Prometheus
  metrics into the textfile directory of windows_exporter.

.DESCRIPTION
  Run once, as Administrator, on the MailStore SPE server:
    .\Register-MsspCheckTask.ps1 -Role ih -Site C:\ProgramData\mssp-check\site.toml
  windows_exporter reads *.prom files from its textfile directory when the "textfile"
  collector is enabled (the default directory is shown below; --collector.textfile.directories
  changes it). The task writes a temporary file and renames it, so the exporter never reads
  half a file, and writes UTF-8 without a byte order mark, which the exporter requires.
#>
param(
    [Parameter(Mandatory = $true)]
    [ValidateSet('server', 'mgmt', 'ih', 'cas')]
    [string] $Role,
    [Parameter(Mandatory = $true)]
    [string] $Site,
    [string] $Exe = 'C:\Program Files\mssp-check\mssp-check.exe',
    [string] $TextfileDir = 'C:\Program Files\windows_exporter\textfile_inputs',
    [int] $EveryMinutes = 5
)
$ErrorActionPreference = 'Stop'

# The script the task runs: mssp-check's stdout, as UTF-8 without BOM and with LF line ends.
# Exit code 1 (a required path failed) still writes the file: the metrics say which path.
$runner = Join-Path (Split-Path $Site) 'Write-MsspCheckMetrics.ps1'
@"
`$out = & '$Exe' --site '$Site' --role $Role --format prometheus
if (`$LASTEXITCODE -gt 1) { exit `$LASTEXITCODE }
`$tmp = Join-Path '$TextfileDir' 'mssp_check.prom.tmp'
[System.IO.File]::WriteAllText(`$tmp, ((`$out -join "``n") + "``n"), (New-Object System.Text.UTF8Encoding `$false))
Move-Item -Force `$tmp (Join-Path '$TextfileDir' 'mssp_check.prom')
"@ | Set-Content -Path $runner -Encoding UTF8

$action = New-ScheduledTaskAction -Execute 'powershell.exe' `
    -Argument "-NoProfile -NonInteractive -ExecutionPolicy Bypass -File `"$runner`""
$trigger = New-ScheduledTaskTrigger -Once -At (Get-Date).AddMinutes(1) `
    -RepetitionInterval (New-TimeSpan -Minutes $EveryMinutes)
# Probes need no privileges; NETWORK SERVICE can write the exporter's directory when granted.
$principal = New-ScheduledTaskPrincipal -UserId 'NT AUTHORITY\NETWORK SERVICE' -LogonType ServiceAccount
$settings = New-ScheduledTaskSettingsSet -ExecutionTimeLimit (New-TimeSpan -Minutes 4) `
    -MultipleInstances IgnoreNew -StartWhenAvailable
icacls $TextfileDir /grant 'NT AUTHORITY\NETWORK SERVICE:(OI)(CI)M' | Out-Null
Register-ScheduledTask -TaskName 'mssp-check' -Description 'mssp-check: network paths of this MailStore SPE role, for windows_exporter' `
    -Action $action -Trigger $trigger -Principal $principal -Settings $settings -Force
