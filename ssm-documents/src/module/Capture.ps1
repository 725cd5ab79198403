# Capture before any change, restore on failure or on the Rollback document.
# Runs on Windows PowerShell 5.1 and PowerShell 7; every access to Windows goes through the layer functions.

function Get-BpCapturePath([string]$Id) {
    return (Join-Path (Get-BpCaptureDirectory) ($Id + '.json'))
}

# The capture folder gets a protected DACL (SYSTEM and Administrators only): %ProgramData% lets Users
# create files, and the Rollback document trusts what it reads there as SYSTEM.
function Save-BpCapture($Capture) {
    if (-not $Capture.persist) { return }
    Initialize-BpCaptureDirectory (Get-BpCaptureDirectory)
    $copy = [ordered]@{}
    foreach ($key in $Capture.Keys) { if ($key -ne 'persist') { $copy[$key] = $Capture[$key] } }
    Write-BpProtectedFile (Get-BpCapturePath $Capture.captureId) (ConvertTo-BpJson $copy)
}

function Test-BpCaptureExists([string]$Id) {
    $path = Get-BpCapturePath $Id
    return ((Test-Path -LiteralPath $path) -and $null -eq (Test-BpProtectedFile $path))
}

function Read-BpCapture([string]$Id) {
    $path = Get-BpCapturePath $Id
    if (-not (Test-Path -LiteralPath $path)) { throw (New-BpError 'CAPTURE_NOT_FOUND' ('no capture ' + $Id + ' on this beacon (' + $path + ')')) }
    $untrusted = Test-BpProtectedFile $path
    if ($untrusted) { throw (New-BpError 'CAPTURE_UNTRUSTED' ('the capture ' + $Id + ' was not written by beacon-proxy as SYSTEM (' + $untrusted + '); nothing was restored')) }
    try { $capture = ConvertFrom-BpJson ([System.IO.File]::ReadAllText($path)) } catch { $capture = $null }
    if ($null -eq $capture -or -not ($capture -is [System.Collections.IDictionary]) -or $capture.schema -ne 1 -or $capture.captureId -ne $Id) {
        throw (New-BpError 'CAPTURE_INVALID' ('the capture ' + $Id + ' is not a capture of this version; nothing was restored'))
    }
    Assert-BpCaptureAllowed $capture
    return $capture
}

function Test-BpUnderKey([string]$Path, [string]$Prefix) {
    return ($Path -ieq $Prefix -or $Path.StartsWith($Prefix + '\', [System.StringComparison]::OrdinalIgnoreCase))
}

# Every entry a restore would write must be one a configure run writes: registry values only under the
# FlexNet roots, the WinINet keys, the policy key and this tool's own key; the Administrators group; the
# beacon service; the beacon's tasks; the rights a request grants. Anything else refuses the whole capture.
function Assert-BpCaptureAllowed($Capture) {
    $allowed = $script:BpFacts
    $refuse = { param($why) throw (New-BpError 'CAPTURE_REFUSED' ('the capture ' + $Capture.captureId + ' holds ' + $why + ', which no configure run writes; nothing was restored')) }
    $service = $null
    if ($Capture.Contains('service') -and $null -ne $Capture.service) { $service = $Capture.service }
    if ($null -ne $service) {
        $found = Get-BpService $service.name
        if ($null -eq $found -or $found.displayName -ne $allowed.serviceDisplayName) { & $refuse ('the service ' + $service.name) }
    }
    # The configured account: the one the rights of the capture are for. A profile may only be its own.
    $accountSids = @(@($Capture.entries) | Where-Object { $_.concern -eq 'right' } | ForEach-Object { [string]$_.sid })
    foreach ($entry in @($Capture.entries)) {
        $id = [string]$entry.id
        switch ([string]$entry.concern) {
            { $_ -eq 'registry' -or $_ -eq 'blob' } {
                $ok = $false
                foreach ($prefix in @($allowed.rollbackRegistryKeys)) { if (Test-BpUnderKey ([string]$entry.path) $prefix) { $ok = $true } }
                if ([string]$entry.path -match '^HKU\\S-1-[0-9-]+\\(.+)$' -and (Test-BpUnderKey $Matches[1] $allowed.wininetUserKey)) { $ok = $true }
                if ($entry.Contains('createdFrom') -and $entry.createdFrom -and -not (Test-BpUnderKey ([string]$entry.path) ([string]$entry.createdFrom))) { $ok = $false }
                if (-not $ok) { & $refuse ('the registry value ' + $entry.path + '\' + $entry.name) }
            }
            'group' { if ($entry.group -ne $script:BpFacts.administratorsSid) { & $refuse ('the group ' + $entry.group) } }
            'right' { if (@($allowed.rights) -notcontains $entry.right) { & $refuse ('the right ' + $entry.right) } }
            'serviceLogon' { if ($null -eq $service -or $entry.service -ne $service.name) { & $refuse ('the logon of the service ' + $entry.service) } }
            'task' { if (@($allowed.tasks) -notcontains $entry.taskName) { & $refuse ('the task ' + $entry.taskName) } }
            'account' { if ($entry.before -or [string]$entry.name -notmatch '^[A-Za-z0-9][A-Za-z0-9._-]{0,19}$') { & $refuse ('the account ' + $entry.name) } }
            'profile' { if ($accountSids -notcontains [string]$entry.sid) { & $refuse ('the profile of ' + $entry.sid) } }
            default { & $refuse ('the entry ' + $id) }
        }
    }
}

# The highest key on the way to $Path that does not exist yet (what CreateSubKey will create), or $null.
function Get-BpMissingKeyRoot([string]$Path) {
    $top = $null
    $current = $Path
    while ($current -and -not (Test-BpRegistryKey $current)) {
        $top = $current
        $cut = $current.LastIndexOf('\')
        if ($cut -le 0) { break }
        $current = $current.Substring(0, $cut)
        if ($current -notmatch '\\.+\\') { break }
    }
    return $top
}

# Removes the keys a run created for $Entry, leaf first, as long as they are empty.
function Remove-BpCreatedKeys($Entry) {
    if (-not $Entry.Contains('createdFrom') -or -not $Entry.createdFrom) { return }
    $current = [string]$Entry.path
    while ($current.Length -ge ([string]$Entry.createdFrom).Length) {
        Remove-BpRegistryKeyIfEmpty $current
        if (Test-BpRegistryKey $current) { return }
        $cut = $current.LastIndexOf('\')
        if ($cut -le 0) { return }
        $current = $current.Substring(0, $cut)
    }
}

# Records the current value of each entry before anything changes. The first capture of a request id is
# kept on disk (it is the state before the request); a re-run keeps its own capture in memory.
function Add-BpCaptureEntries($Capture, $Entries) {
    Invoke-BpEntries $Entries {
        param($entry)
        $entry.before = Get-BpEntry $entry
        if ($entry.concern -eq 'registry' -or $entry.concern -eq 'blob') { $entry.createdFrom = Get-BpMissingKeyRoot $entry.path }
        [void]$Capture.entries.Add($entry)
    }
    Save-BpCapture $Capture
}

# Puts every captured entry back as it was, newest first, and lists each value it put back (before -> after). The service is restarted as soon as its logon is
# back (so it lets go of the account's profile before that is touched), or at the end if it is not running.
function Restore-BpCapture($Capture, $Checks) {
    $restored = New-Object System.Collections.ArrayList
    $diff = New-Object System.Collections.ArrayList
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
                    Add-BpDiff $diff $entry $current (Get-BpEntry $entry) 'restored'
                }
                # Keys this run created go too (parents included), once their last value is gone.
                Remove-BpCreatedKeys $entry
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
    return [ordered]@{ attempted = $true; ok = ($failures.Count -eq 0); restored = $restored.ToArray(); error = $message; diff = $diff }
}
