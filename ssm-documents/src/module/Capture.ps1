# Capture before any change, restore on failure or on the Rollback document.
# Runs on Windows PowerShell 5.1 and PowerShell 7; every access to Windows goes through the layer functions.

function Get-BpCapturePath([string]$Id) {
    return (Join-Path (Get-BpCaptureDirectory) ($Id + '.json'))
}

function Save-BpCapture($Capture) {
    if (-not $Capture.persist) { return }
    $directory = Get-BpCaptureDirectory
    if (-not (Test-Path -LiteralPath $directory)) { [void](New-Item -ItemType Directory -Path $directory -Force) }
    $copy = [ordered]@{}
    foreach ($key in $Capture.Keys) { if ($key -ne 'persist') { $copy[$key] = $Capture[$key] } }
    $path = Get-BpCapturePath $Capture.captureId
    [System.IO.File]::WriteAllText($path, (ConvertTo-BpJson $copy), (New-Object System.Text.UTF8Encoding($false)))
}

function Read-BpCapture([string]$Id) {
    $path = Get-BpCapturePath $Id
    if (-not (Test-Path -LiteralPath $path)) { throw (New-BpError 'CAPTURE_NOT_FOUND' ('no capture ' + $Id + ' on this beacon (' + $path + ')')) }
    return ConvertFrom-BpJson ([System.IO.File]::ReadAllText($path))
}

# Records the current value of each entry before anything changes. The first capture of a request id is
# kept on disk (it is the state before the request); a re-run keeps its own capture in memory.
function Add-BpCaptureEntries($Capture, $Entries) {
    Invoke-BpEntries $Entries {
        param($entry)
        $entry.before = Get-BpEntry $entry
        if ($entry.concern -eq 'registry' -or $entry.concern -eq 'blob') { $entry.keyExisted = Test-BpRegistryKey $entry.path }
        [void]$Capture.entries.Add($entry)
    }
    Save-BpCapture $Capture
}

# Puts every captured entry back as it was, newest first. The service is restarted as soon as its logon is
# back (so it lets go of the account's profile before that is touched), or at the end if it is not running.
function Restore-BpCapture($Capture, $Checks) {
    $restored = New-Object System.Collections.ArrayList
    $failures = New-Object System.Collections.ArrayList
    $service = $Capture.service
    $serviceHandled = $false
    $entries = @($Capture.entries)
    [array]::Reverse($entries)
    foreach ($entry in $entries) {
        try {
            Invoke-BpWithHive $entry.hive {
                $current = Get-BpEntry $entry
                if (-not (Test-BpEntry $entry $current $entry.before $true)) {
                    Set-BpEntry $entry $entry.before $true
                    [void]$restored.Add($entry.id)
                }
                # A key this run created goes too, once its last value is gone.
                if ($entry.Contains('keyExisted') -and -not $entry.keyExisted) { Remove-BpRegistryKeyIfEmpty $entry.path }
            }
        } catch { [void]$failures.Add($entry.id + ': ' + $_.Exception.Message) }
        if ($entry.concern -eq 'serviceLogon' -and $restored -contains $entry.id -and $null -ne $service -and $service.state -eq 'Running') {
            $serviceHandled = $true
            try { Restart-BpServiceAndWait $service.name 120 } catch { [void]$failures.Add('service:running: ' + $_.Exception.Message) }
        }
    }
    if (-not $serviceHandled -and $null -ne $service -and $service.state -eq 'Running') {
        $current = Get-BpService $service.name
        if ($restored.Count -gt 0 -or $null -eq $current -or $current.state -ne 'Running') {
            try { Restart-BpServiceAndWait $service.name 120 } catch { [void]$failures.Add('service:running: ' + $_.Exception.Message) }
        }
    }
    $profileCreated = @($Capture.entries | Where-Object { $_.concern -eq 'profile' -and -not $_.before }).Count -gt 0
    foreach ($entry in @($Capture.entries)) {
        # Settings inside a profile this run created went away with the profile.
        if ($entry.hive -and $profileCreated -and $null -eq (Get-BpProfile $entry.hive)) { continue }
        try {
            Invoke-BpWithHive $entry.hive {
                $actual = Get-BpEntry $entry
                $ok = Test-BpEntry $entry $actual $entry.before $true
                [void]$Checks.Add((New-BpCheck ('restored:' + $entry.id) (Format-BpEntryValue $entry $entry.before) (Format-BpEntryValue $entry $actual) $ok))
                if (-not $ok) { [void]$failures.Add($entry.id + ': not back to its captured value') }
            }
        } catch { [void]$failures.Add($entry.id + ': ' + $_.Exception.Message) }
    }
    $message = $null
    if ($failures.Count -gt 0) { $message = Protect-BpText ($failures -join '; ') }
    return [ordered]@{ attempted = $true; ok = ($failures.Count -eq 0); restored = $restored.ToArray(); error = $message }
}
