<#
.SYNOPSIS
    Runs mssp-check on every host of a site file over PowerShell remoting, brings the JSON
    reports back and merges them into the deployment's view.

.DESCRIPTION
    For each host (by default every host named in the [hosts] table of the site file):
      1. opens a PSSession with the caller's own credentials (Kerberos inside the domain);
      2. copies mssp-check.exe and the site file (as site.toml) to -RemoteDir with
         Copy-Item -ToSession;
      3. runs, in -RemoteDir on that host, with no --role (the host finds itself in the site
         file and checks every role it holds):
             mssp-check.exe --site site.toml --format json
      4. copies the JSON report back to OUTDIR\hosts\HOST.json.
    Exit codes 0 and 1 of a host are results (1: a required path failed) and its report is
    kept; 2 and 3 are errors (the host is not in the site file, a bad site file, the tool
    failed): they are shown as warnings with the tool's message, and the merge then lists that
    host as one that never reported.

    Then, on this machine:
        mssp-check report OUTDIR\hosts --site site.toml                  (table, on the console)
        mssp-check report OUTDIR\hosts --site site.toml --format html    (OUTDIR\deployment.html)
        mssp-check report OUTDIR\hosts --site site.toml --format junit   (OUTDIR\deployment.xml)

    The script holds no credentials: remoting runs as the caller. Run it from an admin
    workstation or the Management Server, as an account that may open sessions on the hosts.

.PARAMETER SiteFile
    The site file of the deployment. The same file is copied to every host.

.PARAMETER ComputerName
    The hosts to run on. Default: every host in the site file's [hosts] table (server, mgmt,
    ih, cas), without a :port suffix.

.PARAMETER MsspCheck
    mssp-check.exe on this machine: copied to the hosts, and run here for the merge.
    Default: mssp-check.exe beside this script.

.PARAMETER OutDir
    Where the reports go: OUTDIR\hosts\HOST.json, OUTDIR\deployment.html, OUTDIR\deployment.xml.
    Reports left in OUTDIR\hosts by an earlier run are removed first.

.PARAMETER RemoteDir
    The folder on each host that receives mssp-check.exe and site.toml. It is left in place,
    so that an admin can run the same check again on the host.

.EXAMPLE
    .\Invoke-MsspCheck.ps1 -SiteFile .\site.toml

    Every host of site.toml; the matrix on the console; reports\deployment.html to attach to a
    ticket.

.EXAMPLE
    .\Invoke-MsspCheck.ps1 -SiteFile .\site.toml -ComputerName ih01.example.net, ih02.example.net -OutDir .\ih-only

    Two hosts only; the merge still names the site's other hosts as never reported.

.OUTPUTS
    One object per host: ComputerName, ExitCode (of its check; $null when it could not run),
    Report (the local JSON file, or $null) and Message (the tool's or remoting's error).
    The script's own exit code is that of the merge: 0 all required paths ok, 1 a path failed or
    the merge found a problem, 2 bad input (no report at all), 3 the tool failed.

.NOTES
    Needs PowerShell 5.1 or later here (Copy-Item -ToSession) and WinRM on the hosts.
    Files that the site file names by a relative path (public_ca, signatures) are not copied:
    give them absolute paths that exist on every host, or copy them alongside.
#>
[CmdletBinding()]
param(
    [Parameter(Mandatory = $true)]
    [string] $SiteFile,

    [string[]] $ComputerName,

    [string] $MsspCheck = (Join-Path $PSScriptRoot 'mssp-check.exe'),

    [string] $OutDir = 'reports',

    [string] $RemoteDir = 'C:\ProgramData\mssp-check'
)

Set-StrictMode -Version 3
$ErrorActionPreference = 'Stop'

# The host names of a site file's [hosts] table. A deliberately small reader for the one table
# this script needs (keys with one string or a list of strings, # comments), not a TOML parser.
function Get-SiteHost {
    param([string] $Path)
    $inHosts = $false
    $values = New-Object System.Collections.Generic.List[string]
    foreach ($line in Get-Content -LiteralPath $Path -Encoding UTF8) {
        # Host names never hold '#', so everything after one is a comment.
        $l = ($line -replace '#.*$', '').Trim()
        if ($l -match '^\[\s*([^\]]+?)\s*\]$') {
            $inHosts = ($Matches[1] -eq 'hosts')
            continue
        }
        if (-not $inHosts) { continue }
        foreach ($m in [regex]::Matches($l, '"([^"]*)"|''([^'']*)''')) {
            $v = if ($m.Groups[1].Success) { $m.Groups[1].Value } else { $m.Groups[2].Value }
            # A site host may carry a port (host:8474, [2001:db8::1]:8474): remoting wants the
            # name or address alone.
            if ($v -match '^\[([^\]]+)\](:\d+)?$') { $v = $Matches[1] }
            elseif ($v -match '^([^:]+):\d+$') { $v = $Matches[1] }
            if ($v -and -not $values.Contains($v)) { $values.Add($v) }
        }
    }
    , $values.ToArray()
}

# Runs on the host, in the folder the exe and site file were copied to. cmd.exe redirects the
# report byte for byte (UTF-8 as the tool wrote it); PowerShell would decode and re-encode it
# with the console's code page.
$onHost = {
    param([string] $Dir)
    Set-Location -LiteralPath $Dir
    cmd.exe /d /c 'mssp-check.exe --site site.toml --format json > report.json 2> stderr.txt'
    $code = $LASTEXITCODE
    $stderr = if (Test-Path -LiteralPath 'stderr.txt') { (Get-Content -LiteralPath 'stderr.txt' -Raw) } else { '' }
    [pscustomobject]@{ ExitCode = $code; Message = "$stderr".Trim() }
}

if (-not (Test-Path -LiteralPath $SiteFile -PathType Leaf)) { throw "no site file at $SiteFile" }
if (-not (Test-Path -LiteralPath $MsspCheck -PathType Leaf)) { throw "no mssp-check.exe at $MsspCheck (-MsspCheck)" }
$SiteFile = (Resolve-Path -LiteralPath $SiteFile).ProviderPath
$MsspCheck = (Resolve-Path -LiteralPath $MsspCheck).ProviderPath

if (-not $ComputerName) { $ComputerName = Get-SiteHost -Path $SiteFile }
if (-not $ComputerName) { throw "$SiteFile names no host in its [hosts] table; give -ComputerName" }

$hostDir = Join-Path $OutDir 'hosts'
if (Test-Path -LiteralPath $hostDir) { Get-ChildItem -LiteralPath $hostDir -Filter '*.json' | Remove-Item }
New-Item -ItemType Directory -Force -Path $hostDir | Out-Null
$hostDir = (Resolve-Path -LiteralPath $hostDir).ProviderPath

$results = foreach ($computer in $ComputerName) {
    $result = [pscustomobject]@{ ComputerName = $computer; ExitCode = $null; Report = $null; Message = '' }
    $session = $null
    try {
        Write-Verbose "${computer}: copying mssp-check.exe and the site file to $RemoteDir"
        $session = New-PSSession -ComputerName $computer
        Invoke-Command -Session $session -ScriptBlock {
            param([string] $Dir)
            New-Item -ItemType Directory -Force -Path $Dir | Out-Null
        } -ArgumentList $RemoteDir
        Copy-Item -LiteralPath $MsspCheck -Destination "$RemoteDir\mssp-check.exe" -ToSession $session
        Copy-Item -LiteralPath $SiteFile -Destination "$RemoteDir\site.toml" -ToSession $session

        Write-Verbose "${computer}: running the checks"
        $run = Invoke-Command -Session $session -ScriptBlock $onHost -ArgumentList $RemoteDir
        $result.ExitCode = $run.ExitCode
        $result.Message = $run.Message
        if ($run.ExitCode -eq 0 -or $run.ExitCode -eq 1) {
            # A file name that is safe on Windows even for an IPv6 address.
            $local = Join-Path $hostDir (($computer -replace '[^A-Za-z0-9._-]', '_') + '.json')
            Copy-Item -FromSession $session -LiteralPath "$RemoteDir\report.json" -Destination $local
            $result.Report = $local
        } else {
            Write-Warning "${computer}: mssp-check exited $($run.ExitCode): $($run.Message)"
        }
    } catch {
        $result.Message = $_.Exception.Message
        Write-Warning "${computer}: $($result.Message)"
    } finally {
        if ($session) { Remove-PSSession -Session $session }
    }
    $result
}
$results

# The merge. The table goes straight to the console; HTML and JUnit are captured as UTF-8 (the
# console's code page would garble certificate subjects and the HTML's marks).
& $MsspCheck report $hostDir --site $SiteFile
$mergeExit = $LASTEXITCODE
$previousEncoding = [Console]::OutputEncoding
$utf8 = New-Object System.Text.UTF8Encoding $false
try {
    # Some hosts (no console) refuse the change; the files are then only as good as the code page.
    try { [Console]::OutputEncoding = $utf8 } catch { Write-Warning "console encoding stays $($previousEncoding.WebName): $($_.Exception.Message)" }
    $html = & $MsspCheck report $hostDir --site $SiteFile --format html
    [System.IO.File]::WriteAllText((Join-Path (Resolve-Path -LiteralPath $OutDir).ProviderPath 'deployment.html'), (($html -join "`n") + "`n"), $utf8)
    $junit = & $MsspCheck report $hostDir --site $SiteFile --format junit
    [System.IO.File]::WriteAllText((Join-Path (Resolve-Path -LiteralPath $OutDir).ProviderPath 'deployment.xml'), (($junit -join "`n") + "`n"), $utf8)
} finally {
    try { [Console]::OutputEncoding = $previousEncoding } catch { Write-Verbose $_.Exception.Message }
}
Write-Host "Reports: $hostDir; merged: $(Join-Path $OutDir 'deployment.html'), $(Join-Path $OutDir 'deployment.xml')"
exit $mergeExit
