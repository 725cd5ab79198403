# The one JSON result line every document prints, its checks and its error.
# Runs on Windows PowerShell 5.1 and PowerShell 7; every access to Windows goes through the layer functions.

function New-BpCheck([string]$Name, $Expected, $Actual, [bool]$Ok) {
    return [ordered]@{ name = $Name; expected = $Expected; actual = $Actual; ok = $Ok }
}

function New-BpResult([string]$Kind) {
    return [ordered]@{
        ok = $false; document = $Kind; requestId = $null
        changed = (New-Object System.Collections.ArrayList); checks = (New-Object System.Collections.ArrayList)
        beaconVersion = $null; captureId = $null; error = $null; rollback = $null
        tasksFound = (New-Object System.Collections.ArrayList); warnings = (New-Object System.Collections.ArrayList)
    }
}

function Set-BpResultError($Result, $ErrorRecord) {
    $code = 'UNEXPECTED'
    if ($ErrorRecord.Exception.Data.Contains('BpCode')) { $code = [string]$ErrorRecord.Exception.Data['BpCode'] }
    else { [Console]::Error.WriteLine('beacon-proxy: unexpected error at ' + $ErrorRecord.InvocationInfo.PositionMessage + "`n" + $ErrorRecord.ScriptStackTrace) }
    $Result.error = [ordered]@{ code = $code; message = (Protect-BpText $ErrorRecord.Exception.Message); step = $script:BpStep }
}

# Prints the one result line and returns the exit code. Keeps the line under the pipeline's limit.
function Write-BpResult($Result) {
    try { $Result.beaconVersion = Get-BpBeaconVersion } catch { $Result.beaconVersion = $null }
    $line = Protect-BpText (ConvertTo-BpJson $Result)
    if ($line.Length -gt 15000) {
        $Result.checks = @($Result.checks | Where-Object { -not $_.ok } | Select-Object -First 20)
        $line = Protect-BpText (ConvertTo-BpJson $Result)
    }
    [Console]::Out.WriteLine($line)
    if ($Result.ok) { return 0 }
    return 1
}
